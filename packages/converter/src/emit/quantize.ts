/**
 * Final quantization of one linear into the packed format of docs/architecture.md. Only the packed
 * form is kept (about a tenth of the float weight at 3 bits); the dequantized float weight that the
 * converter's own evaluation and `--emit float` use is made from it when needed, by the same kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { quantizeGroupwise, dequantizeGroupwise, groupParams, packCodes, quantizeCodes } from '@tfjs-mbq/ops';

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
}

/** (q - zero) * scale, [N, K], as a tensor (@tfjs-mbq/ops dequantizeGroupwise over the packed codes). */
export function dequantizedTensor(q: QuantizedLinear): tf.Tensor2D {
  return tf.tidy(() => {
    const packed = tf.tensor2d(q.packed, [q.N, q.packed.length / q.N], 'int32');
    const scales = tf.tensor2d(q.scales, [q.N, q.K / q.groupSize]);
    const zeros = tf.tensor2d(q.zeros, [q.N, q.K / q.groupSize]);
    return dequantizeGroupwise(packed, scales, zeros, { bits: q.bits, groupSize: q.groupSize, inFeatures: q.K }) as tf.Tensor2D;
  });
}

/** dequantizedTensor's values (read asynchronously: tfjs-webgpu cannot read synchronously in Node). */
export async function dequantizedArray(q: QuantizedLinear): Promise<Float32Array> {
  const t = dequantizedTensor(q);
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

/** Weight-only: asymmetric group-wise (docs/algorithm.md §5), via @tfjs-mbq/ops quantizeGroupwise. */
export async function quantizeAsymGroup(node: string, wNK: Float32Array, N: number, K: number, bits: number, groupSize: number): Promise<QuantizedLinear> {
  const q = tf.tidy(() => {
    const w = tf.tensor2d(wNK, [N, K]);
    const r = quantizeGroupwise(w, { bits, groupSize });
    return { packed: r.packed, scales: r.scales, zeros: r.zeros };
  });
  try {
    // The three results come back from the device together.
    const [packed, scales, zeros] = await Promise.all([q.packed.data(), q.scales.data(), q.zeros.data()]);
    return { node, K, N, bits, groupSize, actBits: 0, packed: packed as Int32Array, scales: scales as Float32Array, zeros: zeros as Float32Array };
  } finally {
    tf.dispose([q.packed, q.scales, q.zeros]);
  }
}

/**
 * Weight-activation: symmetric per output channel (docs/algorithm.md §5), stored in the same format
 * with zero = 2^(bits-1) and one group per row (docs/architecture.md).
 */
export async function quantizeSymChannel(node: string, wNK: Float32Array, N: number, K: number, bits: number, actBits: number): Promise<QuantizedLinear> {
  // The ops' symmetric quantizer, one group per row: scale = max(|w|, 1e-5) / (2^(b-1) - 1),
  // q = clamp(round(w / scale), -2^(b-1), 2^(b-1) - 1), stored as q + 2^(b-1).
  const half = 2 ** (bits - 1);
  const params = groupParams(wNK, K, bits, 'sym');
  const codes = quantizeCodes(wNK, K, params, bits, 'sym');
  for (let i = 0; i < codes.length; i++) codes[i] += half;
  return { node, K, N, bits, groupSize: K, actBits, packed: packCodes(codes, N, K, bits), scales: params.scales, zeros: new Float32Array(N).fill(half) };
}
