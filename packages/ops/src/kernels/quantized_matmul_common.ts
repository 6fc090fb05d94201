/**
 * Shared definitions of the fused dequantize+matmul kernel `MbqQuantizedMatMul`
 * (docs/architecture.md, "Custom graph op"): attribute type, validation and the exact
 * float32 reference used by the cpu and wasm kernels and by the tests.
 */
import { MbqQuantizedMatMul, MbqQuantizedMatMulAttrs } from '../kernel_names.js';
import { quantizedMatMulAttrsProblem, roundHalfEven } from '@tfjs-mbq/format';
import { unpackCodes, wordsPerRow } from '../packing.js';

export { MbqQuantizedMatMul };
export type { MbqQuantizedMatMulAttrs };


/** The shapes the kernels work on, after validation: x is viewed as [M, K]. */
export interface QmmDims {
  M: number;
  N: number;
  K: number;
  groups: number;
  words: number;
}

const OP = 'quantizedMatMul';

/**
 * Why the kernels cannot run `bits`-bit weights with `actBits`-bit activations, or null: beyond the
 * attributes a node may hold (format's quantizedMatMulAttrsProblem), int8 activations run with
 * 4-bit weights only (W4A8). The converter checks its options with it.
 */
export function quantizedMatMulBitsError(bits: number, actBits: number): string | null {
  return actBits === 8 && bits !== 4 ? `actBits=8 (W4A8) needs bits=4, got bits=${bits}` : null;
}

/** Validates shapes and attributes; throws an error naming the op and the problem. */
export function checkQuantizedMatMul(
  xShape: readonly number[], packedShape: readonly number[], scalesShape: readonly number[],
  zerosShape: readonly number[], attrs: MbqQuantizedMatMulAttrs,
): QmmDims {
  const { bits, groupSize, inFeatures: K, actBits } = attrs;
  const problem = quantizedMatMulAttrsProblem(attrs);
  if (problem !== undefined) throw new Error(`${OP}: ${problem}`);
  const pairing = quantizedMatMulBitsError(bits, actBits);
  if (pairing) throw new Error(`${OP}: ${pairing}`);
  if (xShape.length < 1) throw new Error(`${OP}: x must have rank >= 1, got a scalar`);
  if (xShape[xShape.length - 1] !== K) {
    throw new Error(`${OP}: the last dimension of x (${xShape[xShape.length - 1]}) must equal inFeatures=${K}`);
  }
  if (packedShape.length !== 2) throw new Error(`${OP}: packed must be rank 2 [N, words], got shape [${packedShape}]`);
  const [N, words] = packedShape;
  const expectWords = wordsPerRow(K, bits);
  if (words !== expectWords) {
    throw new Error(`${OP}: packed must have ceil(K*bits/32) = ${expectWords} words per row for K=${K}, bits=${bits}; got ${words}`);
  }
  const groups = K / groupSize;
  for (const [name, shape] of [['scales', scalesShape], ['zeros', zerosShape]] as const) {
    if (shape.length !== 2 || shape[0] !== N || shape[1] !== groups) {
      throw new Error(`${OP}: ${name} must have shape [N, K/groupSize] = [${N}, ${groups}], got [${shape}]`);
    }
  }
  let M = 1;
  for (let i = 0; i < xShape.length - 1; i++) M *= xShape[i];
  return { M, N, K, groups, words };
}


/**
 * Per-token symmetric int8 quantization of x [M, K] (docs/algorithm.md §5), in float32:
 * scale = max(absmax, 1e-5) / 127, q = clamp(round(x / scale), -128, 127).
 */
export function quantizeActivationsInt8(x: ArrayLike<number>, M: number, K: number): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(M * K);
  const scale = new Float32Array(M);
  const f = Math.fround;
  for (let m = 0; m < M; m++) {
    let amax = 0;
    for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(x[m * K + k]));
    const s = f(f(Math.max(amax, 1e-5)) / 127);
    scale[m] = s;
    for (let k = 0; k < K; k++) {
      q[m * K + k] = Math.min(127, Math.max(-128, roundHalfEven(f(x[m * K + k] / s))));
    }
  }
  return { q, scale };
}

/**
 * Exact float32 reference of y[M, N] = x[M, K] · dequant(W)ᵀ.
 *
 * actBits = 0: each weight is dequantized to float32 as w = fround((q - zero) * scale); then
 * y[m, n] = Σ_k x[m, k] * w[n, k], accumulated in float32 in increasing k (each product and
 * each partial sum rounded to float32).
 * actBits = 8: x is quantized per token (quantizeActivationsInt8); per group g the integer
 * acc_g = Σ_{k in g} qx[k] * (q[k] - zero) is exact; y = sx * Σ_g fround(scale_g * acc_g),
 * summed in float32 in increasing g, then multiplied by sx in float32.
 */
export function quantizedMatMulReference(
  x: ArrayLike<number>, packed: ArrayLike<number>, scales: ArrayLike<number>, zeros: ArrayLike<number>,
  dims: QmmDims, attrs: MbqQuantizedMatMulAttrs,
): Float32Array {
  const { M, N, K, groups } = dims;
  const g = attrs.groupSize;
  const codes = unpackCodes(packed, N, K, attrs.bits);
  const y = new Float32Array(M * N);
  const f = Math.fround;
  if (attrs.actBits === 8) {
    const { q: qx, scale: sx } = quantizeActivationsInt8(x, M, K);
    for (let n = 0; n < N; n++) {
      for (let m = 0; m < M; m++) {
        let acc = 0;
        for (let gi = 0; gi < groups; gi++) {
          const z = zeros[n * groups + gi];
          let ai = 0;
          for (let k = gi * g; k < (gi + 1) * g; k++) ai += qx[m * K + k] * (codes[n * K + k] - z);
          acc = f(acc + f(scales[n * groups + gi] * ai));
        }
        y[m * N + n] = f(acc * sx[m]);
      }
    }
    return y;
  }
  const w = new Float32Array(K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const gi = n * groups + Math.floor(k / g);
      w[k] = (codes[n * K + k] - zeros[gi]) * scales[gi];
    }
    for (let m = 0; m < M; m++) {
      let acc = 0;
      const xo = m * K;
      for (let k = 0; k < K; k++) acc = f(acc + f(x[xo + k] * w[k]));
      y[m * N + n] = acc;
    }
  }
  return y;
}
