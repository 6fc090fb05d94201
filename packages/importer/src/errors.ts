/** Every error the importer reports on bad input: a stable code, and one line naming the file. */
import { CodedError } from '@tfjs-mbq/format';

export type ImportErrorCode =
  | 'SAFETENSORS_HEADER' | 'SAFETENSORS_READ' | 'SAFETENSORS_DTYPE' | 'SAFETENSORS_INDEX' | 'SAFETENSORS_MISSING'
  | 'CONFIG' | 'ARCHITECTURE' | 'TENSOR_NAME' | 'TENSOR_SHAPE' | 'TENSOR_VALUE' | 'TOKENIZER' | 'PROCESSOR' | 'OPTION' | 'OUTPUT_PATH' | 'WRITE';

export class ImportError extends CodedError<ImportErrorCode> {
  override name = 'ImportError';
}

export function isImportError(e: unknown): e is ImportError {
  return e instanceof ImportError;
}
