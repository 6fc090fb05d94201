/** Random quantized linears, the op run on them, and float64 references for the quantizedMatMul tests. */
import * as tf from '@tensorflow/tfjs-core';
import { packCodes, quantizedMatMul, wordsPerRow } from '@tfjs-mbq/ops';
import { quantizedMatMulReference } from '../src/kernels/quantized_matmul_common.js';

export { mulberry32 } from '@tfjs-mbq/ops';

export interface RandomLinear {
  N: number;
  K: number;
  bits: number;
  groupSize: number;
  codes: Uint8Array;
  packed: Int32Array;
  scales: Float32Array;
  zeros: Float32Array;
}

/** Random codes, scales in [0.01, 0.11), integer zeros in [0, 2^bits - 1] (or 2^(bits-1): symmetric). */
export function randomLinear(rand: () => number, N: number, K: number, bits: number, groupSize: number, symmetric = false): RandomLinear {
  const levels = 1 << bits;
  const codes = new Uint8Array(N * K);
  for (let i = 0; i < codes.length; i++) codes[i] = Math.floor(rand() * levels);
  const G = K / groupSize;
  const scales = new Float32Array(N * G);
  const zeros = new Float32Array(N * G);
  for (let i = 0; i < N * G; i++) {
    scales[i] = 0.01 + 0.1 * rand();
    zeros[i] = symmetric ? levels / 2 : Math.floor(rand() * levels);
  }
  const packed = packCodes(codes, N, K, bits);
  if (packed.length !== N * wordsPerRow(K, bits)) throw new Error('packCodes returned an unexpected length');
  return { N, K, bits, groupSize, codes, packed, scales, zeros };
}

export function randomX(rand: () => number, M: number, K: number): Float32Array {
  const x = new Float32Array(M * K);
  for (let i = 0; i < x.length; i++) x[i] = 2 * rand() - 1;
  return x;
}

/** Float64 reference: y[m, n] = Σ_k x[m, k] (q[n, k] - z) s. */
export function referenceF64(x: Float32Array, M: number, w: RandomLinear): Float64Array {
  const { N, K, groupSize, codes, scales, zeros } = w;
  const G = K / groupSize;
  const y = new Float64Array(M * N);
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        const gi = n * G + Math.floor(k / groupSize);
        acc += x[m * K + k] * (codes[n * K + k] - zeros[gi]) * scales[gi];
      }
      y[m * N + n] = acc;
    }
  }
  return y;
}

/** Float64 W4A8 reference on given int8 activations and their per-token scales. */
export function referenceAct8F64(qx: Int8Array, sx: Float32Array, M: number, w: RandomLinear): Float64Array {
  const { N, K, groupSize, codes, scales, zeros } = w;
  const G = K / groupSize;
  const y = new Float64Array(M * N);
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        const gi = n * G + Math.floor(k / groupSize);
        acc += qx[m * K + k] * (codes[n * K + k] - zeros[gi]) * scales[gi];
      }
      y[m * N + n] = acc * sx[m];
    }
  }
  return y;
}

/** ‖a − b‖ / ‖b‖; NaN anywhere gives Infinity so that an unwritten (poisoned) element fails. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) return Infinity;
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** quantizedMatMul on the current backend (its output shape checked), read back. */
export async function run(x: Float32Array, xShape: number[], w: RandomLinear, actBits: 0 | 8 = 0): Promise<Float32Array> {
  const y = tf.tidy(() => quantizedMatMul(
    tf.tensor(x, xShape), tf.tensor2d(w.packed, [w.N, w.packed.length / w.N], 'int32'),
    tf.tensor2d(w.scales, [w.N, w.K / w.groupSize]), tf.tensor2d(w.zeros, [w.N, w.K / w.groupSize]),
    { bits: w.bits, groupSize: w.groupSize, inFeatures: w.K, actBits },
  ));
  expect(y.shape).toEqual([...xShape.slice(0, -1), w.N]);
  const data = (await y.data()) as Float32Array;
  y.dispose();
  return data;
}

/** The cpu reference kernel (quantized_matmul_common.ts) on the same linear. */
export function cpuReference(x: Float32Array, M: number, w: RandomLinear, actBits: 0 | 8 = 0): Float32Array {
  return quantizedMatMulReference(x, w.packed, w.scales, w.zeros,
    { M, N: w.N, K: w.K, groups: w.K / w.groupSize, words: w.packed.length / w.N },
    { bits: w.bits, groupSize: w.groupSize, inFeatures: w.K, actBits });
}
