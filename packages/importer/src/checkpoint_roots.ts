/** Where the files of a checkpoint directory may really be (links resolved): the directory, and a cache's blob store. */
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Where links inside `dir` may lead besides `dir` itself: a Hugging Face cache snapshot
 * (`<repo>/snapshots/<revision>/`) keeps its files in `<repo>/blobs/`.
 */
export async function checkpointRoots(dir: string): Promise<string[]> {
  try {
    const real = await realpath(dir);
    if (basename(dirname(real)) !== 'snapshots') return [];
    const blobs = join(dirname(dirname(real)), 'blobs');
    return (await stat(blobs)).isDirectory() ? [blobs] : [];
  } catch {
    return [];
  }
}
