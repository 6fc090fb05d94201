/** PNG/JPEG -> float32 RGB pixels in [0, 1], HWC, for a file an evaluation manifest names. */
import { join } from 'node:path';
import { readDataFile } from '@tfjs-mbq/format/node';
import { decodeImage, imageToRgb } from '../io/image_file.js';

export async function loadImagePixels(dataDir: string, file: string, size: [number, number]): Promise<Float32Array> {
  // Inside dataDir after resolving links, a regular file, bounded (format's reader).
  const image = await decodeImage(await readDataFile(dataDir, file, 'image'));
  if (typeof image === 'string') throw new Error(`${join(dataDir, file)}: cannot read image (${image})`);
  return imageToRgb(image, size);
}
