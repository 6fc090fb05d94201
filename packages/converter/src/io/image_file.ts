/**
 * Image files -> pixels, for calibration, evaluation and the CLI: a regular file of bounded size,
 * a PNG or JPEG whose header dimensions are within IMAGE_LIMITS (checked before decoding), then
 * decoded by jimp.
 */
import { Jimp } from 'jimp';
import { IMAGE_LIMITS, checkImageHeader } from '@tfjs-mbq/format';
import { InputFileError, readRegularFile } from './input_file.js';

export type DecodedImage = Awaited<ReturnType<typeof Jimp.read>>;

/** Reads and decodes `file`; InputFileError (with a short reason) for anything it refuses. */
export async function decodeImageFile(file: string): Promise<DecodedImage> {
  const bytes = await readRegularFile(file, IMAGE_LIMITS.maxFileBytes);
  const header = checkImageHeader(bytes);
  if (typeof header === 'string') throw new InputFileError(file, header);
  try {
    return await Jimp.read(bytes);
  } catch (e) {
    throw new InputFileError(file, `corrupt image: ${(e as Error).message}`);
  }
}

/** float32 RGB in [0, 1], HWC, resized (jimp's default) to [h, w] when needed; alpha dropped. */
export function imageToRgb(image: DecodedImage, size: readonly [number, number]): Float32Array {
  const [h, w] = size;
  if (image.bitmap.width !== w || image.bitmap.height !== h) image.resize({ w, h });
  const data = image.bitmap.data;
  const out = new Float32Array(h * w * 3);
  for (let p = 0; p < h * w; p++) {
    out[p * 3] = data[p * 4]! / 255;
    out[p * 3 + 1] = data[p * 4 + 1]! / 255;
    out[p * 3 + 2] = data[p * 4 + 2]! / 255;
  }
  return out;
}
