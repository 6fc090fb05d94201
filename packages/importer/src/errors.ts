/** Every error the importer reports on bad input: a stable code, and one line naming the file. */
export type ImportErrorCode =
  | 'SAFETENSORS_HEADER' | 'SAFETENSORS_READ' | 'SAFETENSORS_DTYPE' | 'SAFETENSORS_INDEX' | 'SAFETENSORS_MISSING'
  | 'CONFIG' | 'ARCHITECTURE' | 'TENSOR_NAME' | 'TENSOR_SHAPE' | 'TENSOR_VALUE' | 'TOKENIZER' | 'PROCESSOR' | 'OPTION' | 'OUTPUT_PATH' | 'WRITE';

export class ImportError extends Error {
  readonly code: ImportErrorCode;
  /** The file the problem is in, when there is one. */
  readonly file?: string;
  constructor(code: ImportErrorCode, message: string, file?: string) {
    super(message);
    this.name = 'ImportError';
    this.code = code;
    this.file = file;
  }
}

export function isImportError(e: unknown): e is ImportError {
  return e instanceof ImportError;
}
