/** Hand-built safetensors files for tests: header JSON and bytes laid out exactly as given. */
import { writeFileSync } from 'node:fs';

export interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** The bytes of a safetensors file with these tensors packed in order (header padded with spaces to 8). */
export function safetensorsBytes(tensors: RawTensor[], opts: { metadata?: Record<string, string>; header?: (h: Record<string, unknown>) => unknown; trailing?: number } = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (opts.metadata) header.__metadata__ = opts.metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.byteLength] };
    offset += t.bytes.byteLength;
  }
  let json = JSON.stringify(opts.header ? opts.header(header) : header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const jsonBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + jsonBytes.byteLength + offset + (opts.trailing ?? 0));
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  out.set(jsonBytes, 8);
  let at = 8 + jsonBytes.byteLength;
  for (const t of tensors) {
    out.set(t.bytes, at);
    at += t.bytes.byteLength;
  }
  return out;
}

export function writeSafetensors(path: string, tensors: RawTensor[], opts?: Parameters<typeof safetensorsBytes>[1]): void {
  writeFileSync(path, safetensorsBytes(tensors, opts));
}

export function f32(name: string, shape: number[], values: number[]): RawTensor {
  return { name, dtype: 'F32', shape, bytes: new Uint8Array(Float32Array.from(values).buffer) };
}

/** Little-endian 16-bit words (F16 / BF16 bit patterns). */
export function u16(name: string, dtype: 'F16' | 'BF16', shape: number[], words: number[]): RawTensor {
  const bytes = new Uint8Array(words.length * 2);
  const view = new DataView(bytes.buffer);
  words.forEach((w, i) => view.setUint16(i * 2, w, true));
  return { name, dtype, shape, bytes };
}

export function i64(name: string, shape: number[], values: bigint[]): RawTensor {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  return { name, dtype: 'I64', shape, bytes };
}
