/**
 * The safetensors header: 8 bytes little-endian u64 N, then N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { string: string } }`,
 * then the byte buffer the offsets index (relative to its start). Validated as strictly as the
 * reference implementation: known dtypes, sizes that match shapes, tensors that tile the buffer
 * exactly (no overlap, no gap, nothing past the end).
 */
import { ImportError } from '../errors.js';
import { dtypeSize, isSafetensorsDtype, type SafetensorsDtype } from './dtype.js';

/** The reference implementation refuses headers above 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset of the first element in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  /** Bytes before the data buffer: 8 + N. */
  dataStart: number;
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

function bad(file: string, msg: string): never {
  throw new ImportError('SAFETENSORS_HEADER', `${file}: ${msg}`, file);
}

/** The header length N from the first 8 bytes, checked against the file size. */
export function headerLength(file: string, first8: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || first8.byteLength < 8) bad(file, `not a safetensors file (${fileSize} bytes, shorter than the 8-byte header length)`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n < 2n) bad(file, `header length ${n} is too small for a JSON object`);
  if (n > BigInt(MAX_HEADER_BYTES)) bad(file, `header length ${n} exceeds ${MAX_HEADER_BYTES} bytes (corrupt or not a safetensors file)`);
  if (8n + n > BigInt(fileSize)) bad(file, `header length ${n} runs past the end of the file (${fileSize} bytes): truncated or corrupt`);
  return Number(n);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and validates the JSON header of a file of `fileSize` bytes. */
export function parseHeader(file: string, json: Uint8Array, fileSize: number): SafetensorsHeader {
  const dataStart = 8 + json.byteLength;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    bad(file, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) bad(file, 'header does not start with a JSON object');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    bad(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(doc)) bad(file, 'header is not a JSON object');
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorEntry>();
  for (const [name, value] of Object.entries(doc)) {
    if (name === '__metadata__') {
      if (!isPlainObject(value)) bad(file, '__metadata__ is not an object of strings');
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') bad(file, `__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (!isPlainObject(value)) bad(file, `tensor '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = value;
    if (typeof dtype !== 'string' || !isSafetensorsDtype(dtype)) bad(file, `tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) bad(file, `tensor '${name}' has a shape that is not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) bad(file, `tensor '${name}' has data_offsets that are not [begin, end]`);
    const [begin, end] = offsets as [number, number];
    if (end < begin) bad(file, `tensor '${name}' has data_offsets [${begin}, ${end}] with end before begin`);
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(elements * dtypeSize(dtype))) bad(file, `tensor '${name}' shape [${shape.join(', ')}] is too large`);
    if (end - begin !== elements * dtypeSize(dtype)) {
      bad(file, `tensor '${name}' (${dtype} [${shape.join(', ')}]) needs ${elements * dtypeSize(dtype)} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    tensors.set(name, { name, dtype, shape: (shape as number[]).slice(), offset: dataStart + begin, byteLength: end - begin });
  }
  // Tensors must tile the data buffer: sorted by offset, each begins where the previous ended.
  const bufferBytes = fileSize - dataStart;
  let expected = 0;
  for (const t of [...tensors.values()].sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength)) {
    const begin = t.offset - dataStart;
    if (begin < expected) bad(file, `tensor '${t.name}' overlaps the tensor before it (data_offsets begin ${begin} < ${expected})`);
    if (begin > expected) bad(file, `gap in the data buffer before tensor '${t.name}' (bytes ${expected}..${begin} belong to no tensor)`);
    expected = begin + t.byteLength;
    if (expected > bufferBytes) bad(file, `tensor '${t.name}' ends at byte ${expected} of the data buffer, past the end of the file (${bufferBytes} bytes of data): truncated`);
  }
  if (expected !== bufferBytes) bad(file, `the data buffer has ${bufferBytes} bytes but the tensors cover ${expected}: trailing bytes or a truncated header`);
  return { dataStart, tensors, metadata };
}
