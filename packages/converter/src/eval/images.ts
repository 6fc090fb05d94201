/** PNG -> float32 RGB pixels in [0, 1], HWC. */
import { join } from 'node:path';
import { Jimp } from 'jimp';
import { readDataFile } from '@tfjs-mbq/format/node';

export async function loadImagePixels(dataDir: string, file: string, size: [number, number]): Promise<Float32Array> {
  const path = join(dataDir, file);
  let image: Awaited<ReturnType<typeof Jimp.read>>;
  // Read the bytes first (inside dataDir, a regular file, bounded): jimp reports a missing file as an unloadable "URL".
  const bytes = await readDataFile(dataDir, file, 'image');
  try {
    image = await Jimp.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new Error(`${path}: cannot read image (corrupt or not an image: ${(e as Error).message})`);
  }
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
