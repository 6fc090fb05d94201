import * as tf from '@tensorflow/tfjs-core';
import { MbqQuantizedMatMul, MbqQuantizedMatMulAttrs, MbqQuantizedMatMulInputs } from '../kernel_names.js';
import { checkQuantizedMatMul } from '../kernels/quantized_matmul_common.js';
import { assertDtype, assertMinRank, assertRank, assertTensor, fail } from './validate.js';

export interface QuantizedMatMulOptions {
  /** Bits per weight code (2..8; the kernels are tuned for 2, 3, 4 and 8). */
  bits: number;
  /** Inputs per (scale, zero) group along K; divides inFeatures. */
  groupSize: number;
  /** K, the number of inputs (the packed width alone does not determine it). */
  inFeatures: number;
  /** 0 (default): float activations. 8: per-token symmetric int8 activations (W4A8, bits = 4). */
  actBits?: 0 | 8;
}

/**
 * y [..., N] = x [..., K] · dequant(packed, scales, zeros)ᵀ with the weights kept packed
 * (docs/architecture.md: packed int32 [N, ceil(K*bits/32)], scales and zeros float32 [N, K/g],
 * w = (q - zero) * scale). On WebGPU the dequantization is fused into the matmul.
 */
export function quantizedMatMul(
  x: tf.Tensor, packed: tf.Tensor, scales: tf.Tensor, zeros: tf.Tensor, options: QuantizedMatMulOptions,
): tf.Tensor {
  const op = 'quantizedMatMul';
  assertTensor(op, 'x', x);
  assertTensor(op, 'packed', packed);
  assertTensor(op, 'scales', scales);
  assertTensor(op, 'zeros', zeros);
  assertDtype(op, 'x', x, 'float32');
  assertDtype(op, 'packed', packed, 'int32');
  assertDtype(op, 'scales', scales, 'float32');
  assertDtype(op, 'zeros', zeros, 'float32');
  assertMinRank(op, 'x', x, 1);
  assertRank(op, 'packed', packed, 2);
  assertRank(op, 'scales', scales, 2);
  assertRank(op, 'zeros', zeros, 2);
  if (options == null || typeof options !== 'object') fail(op, 'options {bits, groupSize, inFeatures} are required');
  const attrs: MbqQuantizedMatMulAttrs = {
    bits: options.bits, groupSize: options.groupSize, inFeatures: options.inFeatures, actBits: options.actBits ?? 0,
  };
  try {
    checkQuantizedMatMul(x.shape, packed.shape, scales.shape, zeros.shape, attrs);
  } catch (e) {
    fail(op, (e as Error).message.replace(/^quantizedMatMul: /, ''));
  }
  const inputs: MbqQuantizedMatMulInputs = { x, packed, scales, zeros };
  return tf.engine().runKernel(MbqQuantizedMatMul, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
