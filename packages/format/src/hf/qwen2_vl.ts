/** Qwen2-VL's image processor: smart_resize, then one row per patch in merge-window order. */
import { FormatError } from '../errors.js';
import type { Qwen2VlImageProcessorConfig } from './image_processor_config.js';
import { resizeRgb8, writeChw, type Rgb8 } from './pixels.js';
import type { PreprocessedImage } from './preprocess.js';

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Both sides multiples of `factor`, area within [minPixels, maxPixels], aspect kept as well as that allows. */
export function smartResize(height: number, width: number, factor: number, minPixels: number, maxPixels: number): [number, number] {
  if (Math.max(height, width) / Math.min(height, width) > 200) {
    throw new FormatError('IMAGE', `qwen2-vl: aspect ratio must be at most 200, got ${height}x${width}`);
  }
  let h = roundHalfEven(height / factor) * factor;
  let w = roundHalfEven(width / factor) * factor;
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.max(factor, Math.floor(height / beta / factor) * factor);
    w = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  return [h, w];
}

export function qwen2VlPatches(image: Rgb8, config: Qwen2VlImageProcessorConfig): PreprocessedImage {
  const { patchSize: P, temporalPatchSize: T, mergeSize: M } = config;
  const [H, W] = smartResize(image.height, image.width, P * M, config.minPixels, config.maxPixels);
  const resized = resizeRgb8(image, H, W, config.resample);
  const chw = new Float32Array(3 * H * W);
  writeChw(resized, config, chw, 0);
  const gh = H / P;
  const gw = W / P;
  const rowLen = 3 * T * P * P;
  const out = new Float32Array(gh * gw * rowLen);
  // Rows: (block row, block col, row in block, col in block); columns: (channel, frame, y, x).
  // A still image is its own second frame.
  let row = 0;
  for (let by = 0; by < gh / M; by++) {
    for (let bx = 0; bx < gw / M; bx++) {
      for (let my = 0; my < M; my++) {
        for (let mx = 0; mx < M; mx++) {
          const y0 = (by * M + my) * P;
          const x0 = (bx * M + mx) * P;
          let o = row * rowLen;
          for (let c = 0; c < 3; c++) {
            for (let t = 0; t < T; t++) {
              for (let y = 0; y < P; y++) {
                const src = c * H * W + (y0 + y) * W + x0;
                for (let x = 0; x < P; x++) out[o++] = chw[src + x]!;
              }
            }
          }
          row++;
        }
      }
    }
  }
  return { pixelValues: out, shape: [gh * gw, rowLen], imageGridThw: [1, gh, gw] };
}
