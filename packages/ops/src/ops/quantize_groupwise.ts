import * as tf from '@tensorflow/tfjs-core';
import { MbqQuantizeGroupwise, MbqQuantizeGroupwiseAttrs, MbqQuantizeGroupwiseInputs } from '../kernel_names.js';
import { assertBits, assertDtype, assertGroupSize, assertRank, assertTensor, assertNonEmpty } from './validate.js';

export interface QuantizeGroupwiseOptions {
  /** Bits per code, 2..8. */
  bits: number;
  /** Consecutive inputs (along K) sharing one scale and zero point; must divide K. */
  groupSize: number;
}

export interface QuantizedGroupwise {
  /** int32 [N, wordsPerRow(K, bits)]: each row a dense little-endian bitstream of codes (docs/architecture.md). */
  packed: tf.Tensor2D;
  /** float32 [N, K / groupSize]. */
  scales: tf.Tensor2D;
  /** float32 [N, K / groupSize], integer zero points in [0, 2^bits - 1]. */
  zeros: tf.Tensor2D;
}

/**
 * Asymmetric group-wise quantization of a weight W [N, K] along K (docs/algorithm.md §5) with packed codes.
 * dequantizeGroupwise of the result equals pseudoQuantize(w, {mode: 'asym-group'}) bit for bit.
 */
export function quantizeGroupwise(w: tf.Tensor, options: QuantizeGroupwiseOptions): QuantizedGroupwise {
  const op = 'quantizeGroupwise';
  assertTensor(op, 'w', w);
  assertDtype(op, 'w', w, 'float32');
  assertNonEmpty(op, 'w', w);
  assertRank(op, 'w', w, 2);
  const { bits, groupSize } = options;
  assertBits(op, bits);
  assertGroupSize(op, groupSize, (w.shape as number[])[1]);
  const inputs: MbqQuantizeGroupwiseInputs = { w };
  const attrs: MbqQuantizeGroupwiseAttrs = { bits, groupSize };
  const [packed, scales, zeros] = tf.engine().runKernel<tf.Tensor[]>(
    MbqQuantizeGroupwise, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
  return { packed: packed as tf.Tensor2D, scales: scales as tf.Tensor2D, zeros: zeros as tf.Tensor2D };
}
