import * as tf from '@tensorflow/tfjs-core';
import {
  MbqPseudoQuantize, MbqPseudoQuantizeAttrs, MbqPseudoQuantizeInputs, PSEUDO_QUANTIZE_MODES, PseudoQuantizeMode,
} from '../kernel_names.js';
import { assertBits, assertDtype, assertGroupSize, assertMinRank, assertRank, assertTensor, fail, assertNonEmpty } from './validate.js';

export interface PseudoQuantizeOptions {
  /** Bits per code. */
  bits: number;
  /**
   * - 'asym-group': asymmetric, groups of `groupSize` consecutive elements of the last axis (weights W [N, K]).
   * - 'sym-channel': symmetric, one scale per output channel of a weight W [N, K] (per row, rank 2 only).
   * - 'sym-token': symmetric, one scale per token of an activation x [..., K] (per row of the last axis).
   * - 'sym-tensor': symmetric, one scale for the whole tensor.
   */
  mode: PseudoQuantizeMode;
  /** Required for 'asym-group'; must divide the last dimension. */
  groupSize?: number;
}

/**
 * Quantizes and dequantizes `x` with the quantizers of docs/algorithm.md §5 (round half to even):
 * asymmetric scale = max(max - min, 1e-5) / (2^b - 1), zero = clamp(-round(min / scale), 0, 2^b - 1),
 * q = clamp(round(x / scale) + zero, 0, 2^b - 1); symmetric scale = max(absmax, 1e-5) / (2^(b-1) - 1),
 * q = clamp(round(x / scale), -2^(b-1), 2^(b-1) - 1); result (q - zero) * scale in float32.
 */
export function pseudoQuantize(x: tf.Tensor, options: PseudoQuantizeOptions): tf.Tensor {
  const op = 'pseudoQuantize';
  assertTensor(op, 'x', x);
  assertDtype(op, 'x', x, 'float32');
  assertNonEmpty(op, 'x', x);
  const { bits, mode } = options;
  assertBits(op, bits);
  if (!PSEUDO_QUANTIZE_MODES.includes(mode)) fail(op, `mode must be one of ${PSEUDO_QUANTIZE_MODES.join(', ')}, got '${String(mode)}'`);
  let groupSize = 0;
  if (mode === 'asym-group') {
    assertMinRank(op, 'x', x, 1);
    assertGroupSize(op, options.groupSize, x.shape[x.rank - 1]);
    groupSize = options.groupSize;
  } else if (options.groupSize !== undefined) {
    fail(op, `groupSize applies only to mode 'asym-group', not '${mode}'`);
  }
  if (mode === 'sym-channel') assertRank(op, 'x', x, 2);
  if (mode === 'sym-token') assertMinRank(op, 'x', x, 1);
  const inputs: MbqPseudoQuantizeInputs = { x };
  const attrs: MbqPseudoQuantizeAttrs = { bits, mode, groupSize };
  return tf.engine().runKernel(MbqPseudoQuantize, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
}
