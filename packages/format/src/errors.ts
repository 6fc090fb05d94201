/** Every problem the format reports on bad input: a stable code, and a message naming the file (and field). */
export type FormatErrorCode =
  | 'MODEL_JSON_READ' | 'MODEL_JSON_PARSE' | 'MODEL_JSON_FORMAT'
  | 'WEIGHTS_PATH_ESCAPE' | 'WEIGHTS_SHARD_MISSING' | 'WEIGHTS_SHARD_SIZE' | 'WEIGHTS_DTYPE' | 'WEIGHTS_SHAPE'
  | 'WEIGHTS_NONFINITE' | 'WEIGHTS_MISSING'
  | 'CONFIG' | 'TOKENIZER' | 'MBQ_JSON'
  | 'MANIFEST' | 'DATA_FILE'
  | 'IMAGE_PROCESSOR' | 'IMAGE';

/**
 * The shape of every bad-input error of the packages (FormatError here, the converter's
 * ConversionError, the importer's ImportError): a stable code, a message naming the file and the
 * problem in one line, and the file (or URL, or node) when there is one.
 */
export class CodedError<Code extends string> extends Error {
  readonly code: Code;
  /** The file (or URL, or graph node) the problem is in, when there is one. */
  readonly file?: string;
  constructor(code: Code, message: string, file?: string) {
    super(message);
    this.code = code;
    this.file = file;
  }
}

export class FormatError extends CodedError<FormatErrorCode> {
  override name = 'FormatError';
}

export function isFormatError(e: unknown): e is FormatError {
  return e instanceof FormatError;
}
