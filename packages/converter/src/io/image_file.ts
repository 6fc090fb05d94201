/**
 * Image bytes -> pixels, for calibration, evaluation and the CLI: a PNG or JPEG whose header
 * dimensions are within IMAGE_LIMITS (checked before decoding: a small file can declare
 * gigabytes of pixels), then decoded by jimp. The bytes come from format's bounded readers.
 */
import { Jimp } from 'jimp';
import { checkImageHeader, SourceReadError } from '@tfjs-mbq/format';
import { MAX_DATA_FILE_BYTES, readRegularFile } from '@tfjs-mbq/format/node';

export type DecodedImage = Awaited<ReturnType<typeof Jimp.read>>;

/** The image, or why it is refused ("not a PNG or JPEG image", "the image is 20000x20000 pixels, ..."). */
export async function decodeImage(bytes: Uint8Array): Promise<DecodedImage | string> {
  const header = checkImageHeader(bytes);
  if (typeof header === 'string') return header;
  try {
    return await Jimp.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    return `corrupt image: ${(e as Error).message}`;
  }
}

/** An image file a user names (not one from a manifest): a regular file of bounded size, then decodeImage. */
export async function readImageFile(file: string): Promise<DecodedImage | string> {
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(file, MAX_DATA_FILE_BYTES);
  } catch (e) {
    if (!(e instanceof SourceReadError)) throw e;
    return e.message.startsWith(`${file}: `) ? e.message.slice(file.length + 2) : e.message;
  }
  return decodeImage(bytes);
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
