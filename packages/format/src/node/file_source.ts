/**
 * A FileSource over a directory (Node). Every read resolves real paths (symbolic links included)
 * and refuses what lies outside the directory, accepts only regular files (a FIFO or device would
 * block or never end), checks the size before reading and reads at most that many bytes.
 */
import { constants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { relativePathProblem } from '../paths.js';
import { SourceReadError, type FileSource, type LocalFile } from '../source.js';

export interface FileSourceOptions {
  /**
   * Directories besides `dir` that links inside it may resolve into (a Hugging Face cache snapshot
   * links each file to `../../blobs/<hash>`). Paths are still checked as written against `dir`.
   */
  alsoInside?: readonly string[];
}

function isInside(root: string, real: string): boolean {
  const rel = path.relative(root, real);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * The real path of `file` (relative to `dir`), refused (SourceReadError) when the path climbs out
 * as written, or when it resolves (through symbolic links) outside `dir` and `alsoInside`.
 */
export async function realPathInside(dir: string, file: string, options: FileSourceOptions = {}): Promise<string> {
  const root = path.resolve(dir);
  const full = path.join(root, file);
  const problem = relativePathProblem(file);
  if (problem !== undefined) throw new SourceReadError('outside', full, `${full}: the path '${file}' ${problem}; files must stay inside ${root}`);
  const real = await realpathOf(full);
  const roots = await Promise.all([root, ...(options.alsoInside ?? [])].map((r) => fs.realpath(r).catch(() => undefined)));
  if (!roots.some((r) => r !== undefined && isInside(r, real))) {
    // Nothing about the target (size, kind) is reported: it is not ours to disclose.
    throw new SourceReadError('outside', full, `${full}: resolves outside ${root} (through a symbolic link)`);
  }
  return real;
}

export function fileSource(dir: string, options: FileSourceOptions = {}): FileSource {
  const root = path.resolve(dir);
  const where = (file: string): string => path.join(root, file);

  /** The real path of `file`, refused when it lies outside the root (and `alsoInside`). */
  async function inside(file: string): Promise<{ full: string; real: string }> {
    return { full: where(file), real: await realPathInside(root, file, options) };
  }

  async function read(file: string, maxBytes: number): Promise<Uint8Array> {
    const { full, real } = await inside(file);
    return readRegularFile(real, maxBytes, full);
  }

  async function localFile(file: string, maxBytes: number): Promise<LocalFile> {
    const { full, real } = await inside(file);
    return { path: real, bytes: await regularFileSize(real, maxBytes, full) };
  }

  return { location: root, where, read, localFile };
}

async function realpathOf(full: string): Promise<string> {
  try {
    return await fs.realpath(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new SourceReadError('not-found', full, `${full}: file not found`);
    throw new SourceReadError('failed', full, `${full}: cannot read (${code ?? (e as Error).message})`);
  }
}

type Handle = Awaited<ReturnType<typeof fs.open>>;

/**
 * Opens `file` non-blocking and checks on the open handle that it is a regular file of at most
 * `maxBytes` bytes (so a FIFO swapped in after the check cannot block); `shown` names it in messages.
 */
async function openRegular(file: string, maxBytes: number, shown: string): Promise<{ handle: Handle; size: number }> {
  let handle: Handle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new SourceReadError('not-found', shown, `${shown}: file not found`);
    if (code === 'ENXIO') throw new SourceReadError('not-a-file', shown, `${shown}: not a regular file`);
    throw new SourceReadError('failed', shown, `${shown}: cannot read (${code === 'EACCES' ? 'permission denied' : code ?? (e as Error).message})`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
      throw new SourceReadError('not-a-file', shown, `${shown}: is ${kind}, not a regular file`);
    }
    if (st.size > maxBytes) throw new SourceReadError('too-large', shown, `${shown}: holds ${st.size} bytes, more than the ${maxBytes} expected`);
    return { handle, size: st.size };
  } catch (e) {
    await handle.close();
    if (e instanceof SourceReadError) throw e;
    throw new SourceReadError('failed', shown, `${shown}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The size of a regular file of at most `maxBytes` bytes, checked as readRegularFile checks it, nothing read. */
async function regularFileSize(file: string, maxBytes: number, shown: string): Promise<number> {
  const { handle, size } = await openRegular(file, maxBytes, shown);
  await handle.close();
  return size;
}

/** The bytes of a regular file of at most `maxBytes` bytes; `shown` names it in messages. */
export async function readRegularFile(file: string, maxBytes: number, shown = file): Promise<Uint8Array> {
  const { handle, size } = await openRegular(file, maxBytes, shown);
  try {
    const out = new Uint8Array(size);
    let offset = 0;
    while (offset < out.byteLength) {
      const { bytesRead } = await handle.read(out, offset, out.byteLength - offset, offset);
      if (bytesRead === 0) break; // shrank while reading: what is there is checked by the caller
      offset += bytesRead;
    }
    return offset === out.byteLength ? out : out.subarray(0, offset);
  } catch (e) {
    if (e instanceof SourceReadError) throw e;
    throw new SourceReadError('failed', shown, `${shown}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    await handle.close();
  }
}
