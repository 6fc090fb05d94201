/**
 * A small file (work-dir records, a saved search) written under a temporary sibling name and
 * renamed over the target, so a reader never sees half of it. The temporary name is staged with
 * the cleanup observer: a conversion ended from outside mid-write leaves no stray file beside it.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ConversionError } from './errors.js';
import { cleanupObserver } from './cleanup_observer.js';

/** Writes `text` to `file`; a failure is a WRITE ConversionError `<label>: cannot write (...)`. */
export async function replaceFile(file: string, text: string, label: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  cleanupObserver()?.staged(tmp);
  try {
    await fs.writeFile(tmp, text);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw new ConversionError('WRITE', `${label}: cannot write (${(e as Error).message})`, file);
  } finally {
    cleanupObserver()?.unstaged(tmp);
  }
}
