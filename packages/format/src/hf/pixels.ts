/** 8-bit RGB working images and the float steps transformers' PIL image processors apply to them. */
import { pilResizeRgb, type PilResample } from './pil_resample.js';
import type { Rgb3 } from './image_processor_config.js';

/** Interleaved 8-bit RGB, row-major. */
export interface Rgb8 { rgb: Uint8Array; width: number; height: number }

export function resizeRgb8(image: Rgb8, height: number, width: number, resample: PilResample): Rgb8 {
  return { rgb: pilResizeRgb(image.rgb, image.width, image.height, width, height, resample), width, height };
}

/** Copies rows [top, top+height) and columns [left, left+width); pixels outside the image are 0. */
export function cropOrPadRgb8(image: Rgb8, top: number, left: number, height: number, width: number): Rgb8 {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= image.height) continue;
    for (let x = 0; x < width; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= image.width) continue;
      const s = (sy * image.width + sx) * 3;
      const o = (y * width + x) * 3;
      out[o] = image.rgb[s]!;
      out[o + 1] = image.rgb[s + 1]!;
      out[o + 2] = image.rgb[s + 2]!;
    }
  }
  return { rgb: out, width, height };
}

/**
 * transformers' `center_crop`: offsets floor((size - crop) / 2); a crop larger than the image
 * pads it with zeros, the image placed at ceil((crop - size) / 2).
 */
export function centerCropRgb8(image: Rgb8, height: number, width: number): Rgb8 {
  const offset = (size: number, crop: number): number =>
    crop <= size ? Math.floor((size - crop) / 2) : -Math.ceil((crop - size) / 2);
  return cropOrPadRgb8(image, offset(image.height, height), offset(image.width, width), height, width);
}

export interface FloatSteps { rescaleFactor: number | null; normalize: { mean: Rgb3; std: Rgb3 } | null }

/**
 * Channel-first float32 [3, H, W] written into `out` at `offset`, with numpy's arithmetic: rescale
 * multiplies in float64 and stores float32; normalize subtracts and divides in float32.
 */
export function writeChw(image: Rgb8, steps: FloatSteps, out: Float32Array, offset: number): void {
  const n = image.width * image.height;
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    const mean = steps.normalize ? f(steps.normalize.mean[c]!) : 0;
    const std = steps.normalize ? f(steps.normalize.std[c]!) : 1;
    for (let p = 0; p < n; p++) {
      let v = image.rgb[p * 3 + c]!;
      if (steps.rescaleFactor !== null) v = f(v * steps.rescaleFactor);
      if (steps.normalize) v = f(f(v - mean) / std);
      out[offset + c * n + p] = v;
    }
  }
}
