import * as tf from '@tensorflow/tfjs-core';
import { MbqDequantizeGroupwise, MbqDequantizeGroupwiseAttrs, MbqDequantizeGroupwiseInputs } from '../kernel_names.js';
import { wordsPerRow } from '../packing.js';
import { assertBits, assertDtype, assertGroupSize, assertRank, assertTensor, fail } from './validate.js';

export interface DequantizeGroupwiseOptions {
  /** Bits per code, 2..8. */
  bits: number;
  /** Consecutive inputs (along K) sharing one scale and zero point; must divide K. */
  groupSize: number;
  /** K, the number of codes per row (the packed width alone does not determine it). */
  inFeatures: number;
}

/** Unpacks codes [N, K] and returns (q - zero) * scale as float32 [N, K]. */
export function dequantizeGroupwise(packed: tf.Tensor, scales: tf.Tensor, zeros: tf.Tensor, options: DequantizeGroupwiseOptions): tf.Tensor2D {
  const op = 'dequantizeGroupwise';
  assertTensor(op, 'packed', packed);
  assertTensor(op, 'scales', scales);
  assertTensor(op, 'zeros', zeros);
  assertDtype(op, 'packed', packed, 'int32');
  assertDtype(op, 'scales', scales, 'float32');
  assertDtype(op, 'zeros', zeros, 'float32');
  assertRank(op, 'packed', packed, 2);
  assertRank(op, 'scales', scales, 2);
  assertRank(op, 'zeros', zeros, 2);
  const { bits, groupSize, inFeatures } = options;
  assertBits(op, bits);
  if (!Number.isInteger(inFeatures) || inFeatures < 1) fail(op, `inFeatures must be a positive integer, got ${String(inFeatures)}`);
  assertGroupSize(op, groupSize, inFeatures);
  const N = packed.shape[0];
  const words = wordsPerRow(inFeatures, bits);
  if (packed.shape[1] !== words) {
    fail(op, `packed must be [N, ceil(inFeatures * bits / 32)] = [${N}, ${words}] for inFeatures ${inFeatures} at ${bits} bits, got [${packed.shape}]`);
  }
  const groups = inFeatures / groupSize;
  for (const [name, t] of [['scales', scales], ['zeros', zeros]] as const) {
    if (t.shape[0] !== N || t.shape[1] !== groups) fail(op, `${name} must be [N, inFeatures / groupSize] = [${N}, ${groups}], got [${t.shape}]`);
  }
  const inputs: MbqDequantizeGroupwiseInputs = { packed, scales, zeros };
  const attrs: MbqDequantizeGroupwiseAttrs = { bits, groupSize, inFeatures };
  return tf.engine().runKernel(MbqDequantizeGroupwise, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
}
