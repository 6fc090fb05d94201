/** Every problem the format reports on bad input: a stable code, and a message naming the file (and field). */
export type FormatErrorCode =
  | 'MODEL_JSON_READ' | 'MODEL_JSON_PARSE' | 'MODEL_JSON_FORMAT'
  | 'WEIGHTS_PATH_ESCAPE' | 'WEIGHTS_SHARD_MISSING' | 'WEIGHTS_SHARD_SIZE' | 'WEIGHTS_DTYPE' | 'WEIGHTS_SHAPE'
  | 'WEIGHTS_NONFINITE' | 'WEIGHTS_MISSING'
  | 'CONFIG' | 'TOKENIZER' | 'MBQ_JSON'
  | 'MANIFEST' | 'DATA_FILE'
  | 'IMAGE_PROCESSOR' | 'IMAGE';

export class FormatError extends Error {
  readonly code: FormatErrorCode;
  /** The file (or URL) the problem is in. */
  readonly file?: string;
  constructor(code: FormatErrorCode, message: string, file?: string) {
    super(message);
    this.name = 'FormatError';
    this.code = code;
    this.file = file;
  }
}

export function isFormatError(e: unknown): e is FormatError {
  return e instanceof FormatError;
}
