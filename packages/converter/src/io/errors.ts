/** Every error the converter reports on bad input: a stable code, and a message naming the file or node. */
export type ConversionErrorCode =
  | 'MODEL_JSON_READ' | 'MODEL_JSON_PARSE' | 'MODEL_JSON_FORMAT'
  | 'WEIGHTS_PATH_ESCAPE' | 'WEIGHTS_SHARD_MISSING' | 'WEIGHTS_SHARD_SIZE' | 'WEIGHTS_DTYPE' | 'WEIGHTS_SHAPE'
  | 'WEIGHTS_NONFINITE' | 'WEIGHTS_MISSING'
  | 'CONFIG' | 'TOKENIZER' | 'MBQ_JSON'
  | 'UNSUPPORTED_OP' | 'GRAPH_ANALYSIS' | 'GRAPH_EXEC'
  | 'OPTION' | 'OUTPUT_PATH' | 'WRITE'
  | 'CALIB_EMPTY' | 'CALIB_MANIFEST' | 'CALIB_IMAGE' | 'CALIB_TOKEN'
  | 'INTERRUPTED';

export class ConversionError extends Error {
  readonly code: ConversionErrorCode;
  /** The file (or node) the problem is in, when there is one. */
  readonly file?: string;
  constructor(code: ConversionErrorCode, message: string, file?: string) {
    super(message);
    this.name = 'ConversionError';
    this.code = code;
    this.file = file;
  }
}

export function isConversionError(e: unknown): e is ConversionError {
  return e instanceof ConversionError;
}
