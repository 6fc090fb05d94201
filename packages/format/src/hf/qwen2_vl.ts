/** Qwen2-VL's image processor: smart_resize, then one row per patch in merge-window order. */
import { FormatError } from '../errors.js';
import { roundHalfEven } from '../round_half_even.js';
import type { Qwen2VlImageProcessorConfig } from './image_processor_config.js';
import { resizeRgb8, writeChw, type Rgb8 } from './pixels.js';
import type { PreprocessedImage } from './preprocess.js';


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

/**
 * The patches of a gh x gw grid in Qwen2-VL's merge-window order (M x M windows in raster order,
 * patches in raster order inside each): the grid (row, column) of the patch on each output row.
 * The one statement of the order: the processor's patches, the graph input made back from them
 * (graph_input.ts) and the importer's vision rotary tables follow it.
 */
export function mergeWindowOrder(gh: number, gw: number, M: number): Array<[number, number]> {
  const order: Array<[number, number]> = [];
  for (let by = 0; by < gh / M; by++) {
    for (let bx = 0; bx < gw / M; bx++) {
      for (let my = 0; my < M; my++) {
        for (let mx = 0; mx < M; mx++) order.push([by * M + my, bx * M + mx]);
      }
    }
  }
  return order;
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
  // Rows: patches in merge-window order; columns: (channel, frame, y, x). A still image is its own second frame.
  for (const [row, [py, px]] of mergeWindowOrder(gh, gw, M).entries()) {
    const y0 = py * P;
    const x0 = px * P;
    let o = row * rowLen;
    for (let c = 0; c < 3; c++) {
      for (let t = 0; t < T; t++) {
        for (let y = 0; y < P; y++) {
          const src = c * H * W + (y0 + y) * W + x0;
          for (let x = 0; x < P; x++) out[o++] = chw[src + x]!;
        }
      }
    }
  }
  return { pixelValues: out, shape: [gh * gw, rowLen], imageGridThw: [1, gh, gw] };
}
