/** Weights as plain typed arrays: what every stage of the converter passes around. */
import type { WeightDtype } from '../graph/types.js';

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

export function bytesPerElement(dtype: WeightDtype): number {
  return dtype === 'bool' ? 1 : 4;
}

export function cloneWeight(w: WeightArray): WeightArray {
  return { dtype: w.dtype, shape: [...w.shape], data: w.data.slice() };
}
