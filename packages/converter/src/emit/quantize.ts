/**
 * Final quantization of one linear into the packed format of docs/architecture.md, plus the
 * dequantized float weight that the converter's own (pseudo-quantized) evaluation uses.
 */
import * as tf from '@tensorflow/tfjs-core';
import { quantizeGroupwise, dequantizeGroupwise, packCodes } from '@tfjs-mbq/ops';

export interface QuantizedLinear {
  node: string;
  K: number;
  N: number;
  bits: number;
  groupSize: number;
  /** 0: float activations; else per-token symmetric activation bits. */
  actBits: number;
  packed: Int32Array; // [N, wordsPerRow]
  scales: Float32Array; // [N, K / groupSize]
  zeros: Float32Array; // [N, K / groupSize]
  /** (q - zero) * scale, [N, K]. */
  dequant: Float32Array;
}

/** Weight-only: asymmetric group-wise (docs/algorithm.md §5), via @tfjs-mbq/ops quantizeGroupwise. */
export function quantizeAsymGroup(node: string, wNK: Float32Array, N: number, K: number, bits: number, groupSize: number): QuantizedLinear {
  return tf.tidy(() => {
    const w = tf.tensor2d(wNK, [N, K]);
    const q = quantizeGroupwise(w, { bits, groupSize });
    const deq = dequantizeGroupwise(q.packed, q.scales, q.zeros, { bits, groupSize, inFeatures: K });
    return {
      node, K, N, bits, groupSize, actBits: 0,
      packed: q.packed.dataSync() as Int32Array,
      scales: q.scales.dataSync() as Float32Array,
      zeros: q.zeros.dataSync() as Float32Array,
      dequant: deq.dataSync() as Float32Array,
    };
  });
}

/**
 * Weight-activation: symmetric per output channel (docs/algorithm.md §5), stored in the same format
 * with zero = 2^(bits-1) and one group per row (docs/architecture.md).
 */
export function quantizeSymChannel(node: string, wNK: Float32Array, N: number, K: number, bits: number, actBits: number): QuantizedLinear {
  const half = 2 ** (bits - 1);
  const { codes, scales } = tf.tidy(() => {
    const w = tf.tensor2d(wNK, [N, K]);
    const scale = tf.div(tf.maximum(tf.max(tf.abs(w), 1, true), 1e-5), half - 1);
    const q = tf.clipByValue(tf.round(tf.div(w, scale)), -half, half - 1);
    return { codes: tf.add(q, half).dataSync() as Float32Array, scales: scale.dataSync() as Float32Array };
  });
  const packed = packCodes(Int32Array.from(codes), N, K, bits);
  const zeros = new Float32Array(N).fill(half);
  const dequant = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    const sc = scales[n];
    for (let k = 0; k < K; k++) dequant[n * K + k] = Math.fround((codes[n * K + k] - half) * sc);
  }
  return { node, K, N, bits, groupSize: K, actBits, packed, scales: Float32Array.from(scales), zeros, dequant };
}
