/** Pixels in, as browsers (ImageData) and PNG decoders give them: 8-bit, RGB or RGBA, row-major. */
import { FormatError } from '../errors.js';
export interface RgbImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

function channelsOf(image: RgbImage): 3 | 4 {
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new FormatError('IMAGE', `image: width and height must be positive integers, got ${width}x${height}`);
  }
  if (data.length === width * height * 4) return 4;
  if (data.length === width * height * 3) return 3;
  throw new FormatError('IMAGE', `image: ${data.length} bytes is neither RGB nor RGBA for ${width}x${height}`);
}

/**
 * Interleaved RGB bytes of an image. With `compositeOnWhite` (transformers' `convert_to_rgb`), RGBA
 * is alpha-composited over opaque white with Pillow's integer arithmetic (`Image.alpha_composite`,
 * 7 extra bits, division by 255 as (v + (v >> 8)) >> 8); otherwise alpha is dropped.
 */
export function toRgb(image: RgbImage, compositeOnWhite: boolean): Uint8Array {
  const channels = channelsOf(image);
  const n = image.width * image.height;
  const src = image.data;
  const out = new Uint8Array(n * 3);
  if (channels === 3) {
    out.set(src);
    return out;
  }
  for (let p = 0; p < n; p++) {
    const a = src[p * 4 + 3]!;
    for (let c = 0; c < 3; c++) {
      const v = src[p * 4 + c]!;
      if (!compositeOnWhite || a === 255) {
        out[p * 3 + c] = v;
      } else if (a === 0) {
        out[p * 3 + c] = 255;
      } else {
        // Over opaque white the composite's alpha is 255*255, so Pillow's coefficients reduce to
        // a*128 (source) and (255-a)*128 (white).
        const t = v * a * 128 + 255 * (255 - a) * 128 + (0x80 << 7);
        out[p * 3 + c] = (((t >> 8) + t) >> 8) >> 7;
      }
    }
  }
  return out;
}
