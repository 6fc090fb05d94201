/** Every error the converter reports as one line: bad input (a stable code, a message naming the file or node) or a failed backend. */
import { CodedError, FormatError, type FormatErrorCode } from '@tfjs-mbq/format';

export type ConversionErrorCode =
  | Exclude<FormatErrorCode, 'MANIFEST' | 'DATA_FILE'>
  | 'UNSUPPORTED_OP' | 'GRAPH_ANALYSIS' | 'GRAPH_EXEC'
  | 'OPTION' | 'OUTPUT_PATH' | 'WRITE'
  | 'CALIB_EMPTY' | 'CALIB_MANIFEST' | 'CALIB_IMAGE' | 'CALIB_TOKEN'
  | 'INTERRUPTED'
  /** The backend failed (a lost or out-of-memory device, non-finite results): not the input's fault. */
  | 'BACKEND';

export class ConversionError extends CodedError<ConversionErrorCode> {
  override name = 'ConversionError';
}

export function isConversionError(e: unknown): e is ConversionError {
  return e instanceof ConversionError;
}

/**
 * The converter's error for a problem the format found; `manifestCode` / `dataCode` say what a
 * manifest or data-file problem is here (calibration or evaluation).
 */
export function fromFormatError(e: unknown, manifestCode: ConversionErrorCode = 'CALIB_MANIFEST', dataCode: ConversionErrorCode = 'CALIB_IMAGE'): unknown {
  if (!(e instanceof FormatError)) return e;
  const code = e.code === 'MANIFEST' ? manifestCode : e.code === 'DATA_FILE' ? dataCode : e.code;
  return new ConversionError(code, e.message, e.file);
}
