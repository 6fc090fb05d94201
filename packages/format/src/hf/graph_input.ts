/**
 * How an imported graph's `pixel_values` input (NHWC float32 `[1, H, W, 3]`, mbq.json `imageSize`
 * = [H, W]) is made from what the image processor returns (`preprocessImage`): one home for the
 * layout, for the importer that builds the graph and for everything that feeds it.
 */
import { FormatError } from '../errors.js';
import type { Qwen2VlImageProcessorConfig } from './image_processor_config.js';
import type { ProcessedImageShape } from './image_tokens.js';
import { chwToHwc, type PreprocessedImage } from './preprocess.js';
import { mergeWindowOrder } from './qwen2_vl.js';

/**
 * - `image`: the processed image itself (CLIP, SigLIP: `[1, 3, H, W]` -> NHWC).
 * - `views`: LLaVA-OneVision anyres, the base view then the tiles of a `tileGrid` (rows, columns)
 *   layout, each `viewSize`, stacked top to bottom (H = views · viewSize[0]); the graph is built for
 *   the layout the processor makes for an image of `imageSizeForLayout` (no unpadding, no feature
 *   interpolation), so only images with that layout are answered as transformers would.
 * - `qwen2-vl`: the image after smart_resize, rescale and normalize, NHWC (the graph cuts the
 *   patches in the processor's merge-window order and treats the still image as its equal
 *   temporal frames); `gridThw` is the processor's image_grid_thw for it, fixed in the graph.
 */
export type ImageInputLayout =
  | { kind: 'image' }
  | { kind: 'views'; views: number; viewSize: [number, number]; tileGrid: [number, number]; imageSizeForLayout: [number, number] }
  | { kind: 'qwen2-vl'; gridThw: [number, number, number] };

/** Qwen2-VL's flattened patches `[gh·gw, 3·T·P·P]` (merge-window order) back to the image they were cut from, NHWC. */
function qwen2VlImage(pre: PreprocessedImage, p: Pick<Qwen2VlImageProcessorConfig, 'patchSize' | 'temporalPatchSize' | 'mergeSize'>): Float32Array {
  const [, gh, gw] = pre.imageGridThw!;
  const { patchSize: P, temporalPatchSize: T, mergeSize: M } = p;
  const W = gw * P;
  const out = new Float32Array(gh * P * W * 3);
  const rowLen = 3 * T * P * P;
  for (const [row, [py, px]] of mergeWindowOrder(gh, gw, M).entries()) {
    const y0 = py * P;
    const x0 = px * P;
    // Columns (channel, frame, y, x); frame 0 (the frames of a still image are equal).
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < P; y++) {
        for (let x = 0; x < P; x++) out[((y0 + y) * W + x0 + x) * 3 + c] = pre.pixelValues[row * rowLen + (c * T) * P * P + y * P + x]!;
      }
    }
  }
  return out;
}

/** `pixel_values` for the graph from one preprocessed image; throws when the image does not have the graph's layout. */
export function graphPixelValues(pre: PreprocessedImage, layout: ImageInputLayout, qwen2Vl?: Pick<Qwen2VlImageProcessorConfig, 'patchSize' | 'temporalPatchSize' | 'mergeSize'>): { data: Float32Array; shape: [1, number, number, 3] } {
  const s = pre.shape;
  switch (layout.kind) {
    case 'image': {
      if (s.length !== 4 || s[1] !== 3) throw new FormatError('IMAGE', `graphPixelValues: expected [1, 3, H, W], got [${s.join(', ')}]`);
      return { data: chwToHwc(pre.pixelValues, s[2]!, s[3]!), shape: [1, s[2]!, s[3]!, 3] };
    }
    case 'views': {
      const [h, w] = layout.viewSize;
      if (s.length !== 5 || s[1] !== layout.views || s[3] !== h || s[4] !== w) {
        throw new FormatError('IMAGE', `graphPixelValues: the model takes ${layout.views} views of ${h}x${w} (the anyres layout of a ${layout.imageSizeForLayout.join('x')} image), the processor made [${s.join(', ')}]`);
      }
      const data = new Float32Array(layout.views * h * w * 3);
      for (let v = 0; v < layout.views; v++) data.set(chwToHwc(pre.pixelValues.subarray(v * 3 * h * w, (v + 1) * 3 * h * w), h, w), v * h * w * 3);
      return { data, shape: [1, layout.views * h, w, 3] };
    }
    case 'qwen2-vl': {
      const g = pre.imageGridThw;
      if (!qwen2Vl || !g || g.join(',') !== layout.gridThw.join(',')) {
        throw new FormatError('IMAGE', `graphPixelValues: the model takes an image of grid ${layout.gridThw.join('x')} (t x h x w patches), the processor made ${g ? g.join('x') : 'no grid'}`);
      }
      return { data: qwen2VlImage(pre, qwen2Vl), shape: [1, g[1] * qwen2Vl.patchSize, g[2] * qwen2Vl.patchSize, 3] };
    }
  }
}

/** The processed image a prompt's image-token count depends on, for a graph of this layout and `imageSize`. */
export function processedImageShape(layout: ImageInputLayout, imageSize: readonly [number, number]): ProcessedImageShape {
  switch (layout.kind) {
    case 'image': return { height: imageSize[0], width: imageSize[1] };
    case 'views': return { height: layout.viewSize[0], width: layout.viewSize[1], originalHeight: layout.imageSizeForLayout[0], originalWidth: layout.imageSizeForLayout[1] };
    case 'qwen2-vl': return { height: imageSize[0], width: imageSize[1], gridThw: layout.gridThw };
  }
}

/** mbq.json's `imageInput` (absent: `image`), checked against `imageSize`; errors name the file. */
export function parseImageInputLayout(raw: unknown, imageSize: readonly [number, number], file: string): ImageInputLayout {
  if (raw === undefined) return { kind: 'image' };
  const bad = (msg: string): never => { throw new FormatError('MBQ_JSON', `${file}: "imageInput" ${msg}`, file); };
  const pair = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && v.every((x) => Number.isSafeInteger(x) && (x as number) > 0);
  if (typeof raw !== 'object' || raw === null) return bad(`must be an object, got ${JSON.stringify(raw)}`);
  const o = raw as Record<string, unknown>;
  if (o.kind === 'image') return { kind: 'image' };
  if (o.kind === 'views') {
    const { views, viewSize, tileGrid, imageSizeForLayout } = o;
    if (!Number.isSafeInteger(views) || !pair(viewSize) || !pair(tileGrid) || !pair(imageSizeForLayout) || views !== 1 + tileGrid[0] * tileGrid[1]) {
      return bad('of kind "views" needs views = 1 + tiles, viewSize, tileGrid and imageSizeForLayout');
    }
    if (imageSize[0] !== (views as number) * viewSize[0] || imageSize[1] !== viewSize[1]) return bad(`stacks ${views as number} views of ${viewSize.join('x')}, but "imageSize" is [${imageSize.join(', ')}]`);
    return { kind: 'views', views: views as number, viewSize, tileGrid, imageSizeForLayout };
  }
  if (o.kind === 'qwen2-vl') {
    const g = o.gridThw;
    if (!Array.isArray(g) || g.length !== 3 || !g.every((x) => Number.isSafeInteger(x) && (x as number) > 0)) return bad('of kind "qwen2-vl" needs gridThw [t, h, w]');
    return { kind: 'qwen2-vl', gridThw: [g[0] as number, g[1] as number, g[2] as number] };
  }
  return bad(`kind must be "image", "views" or "qwen2-vl", got ${JSON.stringify(o.kind)}`);
}
