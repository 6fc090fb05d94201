/** Weights as plain typed arrays, and the byte sizes the manifest declares for them. */
import type { ManifestDtype, WeightDtype, WeightEntryJson } from './graph_model.js';

export type WeightData = Float32Array | Int32Array | Uint8Array;

export interface WeightArray {
  dtype: WeightDtype;
  shape: number[];
  data: WeightData;
}

export type WeightMap = Map<string, WeightArray>;

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const DTYPE_BYTES: Record<ManifestDtype, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
const QUANTIZED_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

export function bytesPerElement(dtype: ManifestDtype): number {
  return DTYPE_BYTES[dtype];
}

/** Bytes a manifest entry takes in its shard (tfjs-converter's weight quantization included). */
export function storedByteLength(w: WeightEntryJson): number {
  const per = w.quantization !== undefined ? QUANTIZED_BYTES[w.quantization.dtype]! : DTYPE_BYTES[w.dtype];
  return sizeOf(w.shape) * per;
}

export function cloneWeight(w: WeightArray): WeightArray {
  return { dtype: w.dtype, shape: [...w.shape], data: w.data.slice() };
}
