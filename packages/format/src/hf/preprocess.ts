/**
 * `preprocessImage`: pixels in, the tensor transformers' (PIL backend) image processor returns out,
 * for every processor that ImageProcessorConfig describes. Browser-safe.
 */
import { FormatError } from '../errors.js';
import type { AnyresImageProcessorConfig, ImageProcessorConfig, Qwen2VlImageProcessorConfig, SingleImageProcessorConfig } from './image_processor_config.js';
import { centerCropRgb8, cropOrPadRgb8, resizeRgb8, writeChw, type Rgb8 } from './pixels.js';
import { qwen2VlPatches } from './qwen2_vl.js';
import { fitInside } from './anyres.js';
import { selectBestResolution } from './image_tokens.js';
import { toRgb, type RgbImage } from './rgb.js';
import type { ProcessedImageShape } from './image_tokens.js';

export interface PreprocessedImage {
  /** Row-major, in transformers' layout for one image (see `shape`). */
  pixelValues: Float32Array;
  /** [1, 3, H, W] (single), [1, 1 + tiles, 3, H, W] (anyres), [patches, 3 * T * P * P] (qwen2-vl). */
  shape: number[];
  /** Qwen2-VL: [t, h, w] in patches. */
  imageGridThw?: [number, number, number];
  /** Anyres: the input's [height, width], which decides the tile layout. */
  imageSize?: [number, number];
}

export function preprocessImage(image: RgbImage, config: ImageProcessorConfig): PreprocessedImage {
  const rgb8: Rgb8 = { rgb: toRgb(image, config.compositeOnWhite), width: image.width, height: image.height };
  switch (config.kind) {
    case 'single': return single(rgb8, config);
    case 'anyres': return anyres(rgb8, config);
    case 'qwen2-vl': return qwen2Vl(rgb8, config);
  }
}

/** transformers' `get_resize_output_image_size` for a shortest-edge size: the long side scales and truncates. */
export function shortestEdgeSize(height: number, width: number, shortestEdge: number): [number, number] {
  return width <= height
    ? [Math.trunc((shortestEdge * height) / width), shortestEdge]
    : [shortestEdge, Math.trunc((shortestEdge * width) / height)];
}

function single(image: Rgb8, config: SingleImageProcessorConfig): PreprocessedImage {
  let img = image;
  if (config.resize) {
    const [h, w] = 'shortestEdge' in config.resize
      ? shortestEdgeSize(img.height, img.width, config.resize.shortestEdge)
      : [config.resize.height, config.resize.width];
    img = resizeRgb8(img, h, w, config.resample);
  }
  if (config.centerCrop) img = centerCropRgb8(img, config.centerCrop.height, config.centerCrop.width);
  const out = new Float32Array(3 * img.height * img.width);
  writeChw(img, config, out, 0);
  return { pixelValues: out, shape: [1, 3, img.height, img.width] };
}

function anyres(image: Rgb8, config: AnyresImageProcessorConfig): PreprocessedImage {
  const { height: H, width: W } = config.size;
  const [th, tw] = selectBestResolution(image.height, image.width, config.gridPinpoints);
  const [nh, nw] = fitInside([image.height, image.width], [th, tw]);
  const fitted = resizeRgb8(image, nh, nw, config.resample);
  // Centered in the pinpoint, the odd pixel of padding at the bottom / right.
  const padded = cropOrPadRgb8(fitted, -Math.floor((th - nh) / 2), -Math.floor((tw - nw) / 2), th, tw);
  const views: Rgb8[] = [resizeRgb8(image, H, W, config.resample)];
  // Tiles are `size.height` square, row by row; each is then resized to `size` like the base view.
  const tile = H;
  for (let y = 0; y < th; y += tile) {
    for (let x = 0; x < tw; x += tile) {
      const t = cropOrPadRgb8(padded, y, x, Math.min(tile, th - y), Math.min(tile, tw - x));
      views.push(resizeRgb8(t, H, W, config.resample));
    }
  }
  const out = new Float32Array(views.length * 3 * H * W);
  views.forEach((v, i) => writeChw(v, config, out, i * 3 * H * W));
  return { pixelValues: out, shape: [1, views.length, 3, H, W], imageSize: [image.height, image.width] };
}

function qwen2Vl(image: Rgb8, config: Qwen2VlImageProcessorConfig): PreprocessedImage {
  return qwen2VlPatches(image, config);
}

/**
 * What the processor's image-token rule reads of one processed image (transformers passes the
 * same to `replace_image_token`): the size of pixel_values (one view for anyres), the original
 * size (anyres: `image_sizes`), the patch grid (Qwen2-VL: `image_grid_thw`).
 */
export function promptImageShape(pre: PreprocessedImage, config: ImageProcessorConfig): ProcessedImageShape {
  const s = pre.shape;
  switch (config.kind) {
    case 'single': return { height: s[2]!, width: s[3]! };
    case 'anyres': return { height: s[3]!, width: s[4]!, originalHeight: pre.imageSize![0], originalWidth: pre.imageSize![1] };
    case 'qwen2-vl': {
      const g = pre.imageGridThw!;
      return { height: g[1] * config.patchSize, width: g[2] * config.patchSize, gridThw: g };
    }
  }
}

/** [1, 3, H, W] channel-first to [1, H, W, 3] channel-last (the graph input layout of LLaVA-family imports). */
export function chwToHwc(chw: Float32Array, height: number, width: number): Float32Array {
  const n = height * width;
  if (chw.length !== 3 * n) throw new FormatError('IMAGE', `chwToHwc: expected ${3 * n} values for 3x${height}x${width}, got ${chw.length}`);
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) for (let p = 0; p < n; p++) out[p * 3 + c] = chw[c * n + p]!;
  return out;
}
