/**
 * Reading input files we were pointed at (manifests, images) without being led astray: only
 * regular files (a FIFO or a device would block or never end), at most a stated size, and for
 * files named by a manifest, only inside the data directory once symbolic links are resolved.
 */
import { constants, promises as fs } from 'node:fs';
import * as path from 'node:path';

/** A file that cannot be read as asked; `reason` is the short why ("file not found", "a FIFO, not a regular file"). */
export class InputFileError extends Error {
  constructor(readonly file: string, readonly reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'InputFileError';
  }
}

/** A manifest entry naming a path outside its directory: the error is the manifest's, not the file's. */
export class PathEscapeError extends InputFileError {
  constructor(file: string, reason: string) {
    super(file, reason);
    this.name = 'PathEscapeError';
  }
}

function kind(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  return st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device'
    : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a file';
}

function errnoReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' ? 'file not found' : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'ELOOP' ? 'too many levels of symbolic links' : code ?? (e as Error).message;
}

/**
 * The bytes of a regular file of at most `maxBytes`. It is checked before it is opened and again
 * on the open descriptor (opened non-blocking, so a FIFO swapped in meanwhile cannot block), and
 * never more than its size is read.
 */
export async function readRegularFile(file: string, maxBytes: number): Promise<Buffer> {
  let st;
  try {
    st = await fs.stat(file);
  } catch (e) {
    throw new InputFileError(file, errnoReason(e));
  }
  if (!st.isFile()) throw new InputFileError(file, `${kind(st)}, not a regular file`);
  if (st.size > maxBytes) throw new InputFileError(file, `${st.size} bytes, over the limit of ${maxBytes}`);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new InputFileError(file, errnoReason(e));
  }
  try {
    const now = await handle.stat();
    if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) throw new InputFileError(file, 'changed while being opened');
    const size = Math.min(now.size, maxBytes);
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await handle.read(buf, got, size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === size ? buf : buf.subarray(0, got);
  } finally {
    await handle.close();
  }
}

/**
 * `name` (as written in a manifest) resolved inside `root`: no absolute path, no `..` out of it,
 * and no symbolic link that leads out of it (PathEscapeError). `what` names the directory in
 * messages. A file that does not exist is an InputFileError ("file not found").
 */
export async function resolveUnder(root: string, name: string, what: string): Promise<string> {
  const base = path.resolve(root);
  const file = path.resolve(base, name);
  const rel = path.relative(base, file);
  if (path.isAbsolute(name) || rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new PathEscapeError(file, `path "${name}" escapes the ${what}`);
  }
  let realBase: string;
  let real: string;
  try {
    realBase = await fs.realpath(base);
    real = await fs.realpath(file);
  } catch (e) {
    throw new InputFileError(file, errnoReason(e));
  }
  const realRel = path.relative(realBase, real);
  if (realRel === '' || realRel.startsWith('..') || path.isAbsolute(realRel)) {
    throw new PathEscapeError(file, `path "${name}" leads out of the ${what} through a symbolic link`);
  }
  return file;
}
