/** PNG/JPEG -> float32 RGB pixels in [0, 1], HWC, for a file named by an evaluation manifest. */
import { join } from 'node:path';
import { InputFileError, resolveUnder } from '../io/input_file.js';
import { decodeImageFile, imageToRgb } from '../io/image_file.js';

/** `file` must be a regular file inside `dataDir` once symbolic links are resolved. */
export async function loadImagePixels(dataDir: string, file: string, size: [number, number]): Promise<Float32Array> {
  try {
    return imageToRgb(await decodeImageFile(await resolveUnder(dataDir, file, 'data directory')), size);
  } catch (e) {
    if (e instanceof InputFileError) throw new Error(`${join(dataDir, file)}: cannot read image (${e.reason})`);
    throw e;
  }
}
