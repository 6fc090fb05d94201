/**
 * Where model and data files come from: a directory (Node, `@tfjs-mbq/format/node`) or a base URL
 * (fetch, browsers and Node). A source reads only regular files inside its root, at most a given
 * number of bytes, so a hostile file cannot make a reader escape, hang or grow without bound.
 */

export type ReadProblem =
  /** No such file (or HTTP 404). */
  | 'not-found'
  /** Outside the root: a link, `..`, a redirect to another origin. */
  | 'outside'
  /** A directory, FIFO, device or socket. */
  | 'not-a-file'
  /** Holds more bytes than the reader allows. */
  | 'too-large'
  /** Anything else: permissions, HTTP errors, time-outs, aborts. */
  | 'failed';

export class SourceReadError extends Error {
  constructor(readonly problem: ReadProblem, readonly where: string, message: string) {
    super(message);
    this.name = 'SourceReadError';
  }
}

export interface FileSource {
  /** The directory or base URL, as given. */
  readonly location: string;
  /** The path or URL of `file`, for messages. */
  where(file: string): string;
  /**
   * The bytes of `file` (relative to the location). Refuses (SourceReadError) anything outside the
   * root, anything but a regular file, and a file of more than `maxBytes` bytes, without reading
   * more than `maxBytes + 1` bytes of it.
   */
  read(file: string, maxBytes: number): Promise<Uint8Array>;
  /**
   * Directory sources only: the real path and byte size of `file`, with every check of `read`
   * (inside the root, a regular file, at most `maxBytes` bytes) but nothing read, so that a reader
   * can then take a file's bytes a range at a time.
   */
  localFile?(file: string, maxBytes: number): Promise<LocalFile>;
}

/** A regular file of a directory source, checked but not read. */
export interface LocalFile {
  /** Its real path (symbolic links resolved, inside the source's root). */
  path: string;
  bytes: number;
}

/** Largest JSON file a reader accepts (model.json, tokenizer.json, ...): far above real ones. */
export const MAX_JSON_BYTES = 512 * 1024 * 1024;

/**
 * `source` read as it is but named otherwise in messages: `where(file)` labels each file (say, the
 * checkpoint that a scratch import was made from), and its read errors carry that label instead of
 * the path read.
 */
export function relabelledSource(source: FileSource, location: string, where: (file: string) => string): FileSource {
  const relabel = (e: unknown, file: string): never => {
    if (!(e instanceof SourceReadError)) throw e;
    const inner = source.where(file);
    const label = where(file);
    const message = e.message.startsWith(`${e.where}: `) ? `${label}: ${e.message.slice(e.where.length + 2)}` : e.message.split(inner).join(label);
    const err = new SourceReadError(e.problem, label, message);
    err.cause = e;
    throw err;
  };
  const relabelled: FileSource = {
    location,
    where,
    async read(file: string, maxBytes: number): Promise<Uint8Array> {
      try {
        return await source.read(file, maxBytes);
      } catch (e) {
        return relabel(e, file);
      }
    },
  };
  const local = source.localFile?.bind(source);
  if (local) {
    relabelled.localFile = async (file, maxBytes) => {
      try {
        return await local(file, maxBytes);
      } catch (e) {
        return relabel(e, file);
      }
    };
  }
  return relabelled;
}
