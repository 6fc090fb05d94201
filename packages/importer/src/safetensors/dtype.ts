/**
 * safetensors element types and their conversion to the two array types tfjs graph weights use.
 * Floats widen exactly to float32 (F64 rounds); integers stay int32 when every value fits.
 */
import { halfTableF32 } from '@tfjs-mbq/format';

export const SAFETENSORS_DTYPES = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'] as const;
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

const SIZES: Record<SafetensorsDtype, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

export function isSafetensorsDtype(s: string): s is SafetensorsDtype {
  return (SAFETENSORS_DTYPES as readonly string[]).includes(s);
}

export function dtypeSize(d: SafetensorsDtype): number {
  return SIZES[d];
}

/** Element types read as float32 (the weights of a model). */
export const FLOAT_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['F32', 'F16', 'BF16', 'F64']);
/** Element types read as int32 (index buffers); I64 only when every value fits in int32. */
export const INT_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['I32', 'I64']);

export { halfToFloat } from '@tfjs-mbq/format';

/**
 * Decodes `count` little-endian values of `dtype` from `bytes` into `out` starting at `outOffset`.
 * `bytes` may sit at any byte offset (values are read through a DataView when unaligned).
 */
export function decodeFloats(dtype: SafetensorsDtype, bytes: Uint8Array, out: Float32Array, outOffset: number): void {
  const n = bytes.byteLength / SIZES[dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n), outOffset);
      else for (let i = 0; i < n; i++) out[outOffset + i] = view.getFloat32(i * 4, true);
      return;
    case 'F16': {
      const t = halfTableF32();
      if (bytes.byteOffset % 2 === 0) {
        const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n); // little-endian hosts, as every tfjs target
        for (let i = 0; i < n; i++) out[outOffset + i] = t[h[i]!]!;
      } else {
        for (let i = 0; i < n; i++) out[outOffset + i] = t[view.getUint16(i * 2, true)]!;
      }
      return;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift the bits up, reinterpret.
      const bits = new Uint32Array(out.buffer, out.byteOffset + outOffset * 4, n);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return;
    }
    case 'F64':
      for (let i = 0; i < n; i++) out[outOffset + i] = view.getFloat64(i * 8, true);
      return;
    default:
      throw new Error(`decodeFloats: ${dtype} is not a float type`);
  }
}

/** Decodes I32 / I64 values into int32; returns the index of the first I64 value out of range, or -1. */
export function decodeInts(dtype: SafetensorsDtype, bytes: Uint8Array, out: Int32Array, outOffset: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / SIZES[dtype];
  if (dtype === 'I32') {
    for (let i = 0; i < n; i++) out[outOffset + i] = view.getInt32(i * 4, true);
    return -1;
  }
  if (dtype !== 'I64') throw new Error(`decodeInts: ${dtype} is not an integer type read as int32`);
  for (let i = 0; i < n; i++) {
    const v = view.getBigInt64(i * 8, true);
    if (v > 2147483647n || v < -2147483648n) return i;
    out[outOffset + i] = Number(v);
  }
  return -1;
}
