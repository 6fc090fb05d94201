/**
 * Files a manifest names (calibration and evaluation images): inside the data directory after
 * resolving links, regular files only, of bounded size, like every file the readers open.
 */
import { FormatError } from '../errors.js';
import { SourceReadError } from '../source.js';
import { fileSource } from './file_source.js';

/** Largest data file (an image) a reader opens: far above any image a VLM takes. */
export const MAX_DATA_FILE_BYTES = 64 * 1024 * 1024;

/**
 * The bytes of `file` (a manifest path, relative to `dir`); `what` names it in errors
 * ("calibration image"). Throws a FormatError (code DATA_FILE) naming the path and the problem.
 */
export async function readDataFile(dir: string, file: string, what: string, maxBytes = MAX_DATA_FILE_BYTES): Promise<Uint8Array> {
  const source = fileSource(dir);
  try {
    return await source.read(file, maxBytes);
  } catch (e) {
    if (!(e instanceof SourceReadError)) throw e;
    const why = e.message.startsWith(`${e.where}: `) ? e.message.slice(e.where.length + 2) : e.message;
    throw new FormatError('DATA_FILE', `${source.where(file)}: cannot read ${what} (${why})`, source.where(file));
  }
}
