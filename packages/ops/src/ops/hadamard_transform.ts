import * as tf from '@tensorflow/tfjs-core';
import { MbqHadamardTransform, MbqHadamardTransformAttrs, MbqHadamardTransformInputs } from '../kernel_names.js';
import { assertDtype, assertMinRank, assertTensor, assertNonEmpty } from './validate.js';

export { hadamardMatrix, hadamardPlan, paleyI, paleyII } from './hadamard_matrix.js';
export type { HadamardPlan } from './hadamard_matrix.js';

export interface HadamardTransformOptions {
  /** Apply Hᵀ (the inverse of the orthonormal H) instead of H. */
  inverse?: boolean;
}

/**
 * Orthonormal Hadamard transform along the last axis: y = x · H, H = hadamardMatrix(n) (exact for
 * n = 2^k · m, m in {1, 12, 20, 28}; block-diagonal otherwise, see hadamardPlan(n)). Rotation is
 * exact in real arithmetic: x · W = hadamardTransform(x) · (Hᵀ · W).
 */
export function hadamardTransform(x: tf.Tensor, options: HadamardTransformOptions = {}): tf.Tensor {
  const op = 'hadamardTransform';
  assertTensor(op, 'x', x);
  assertDtype(op, 'x', x, 'float32');
  assertNonEmpty(op, 'x', x);
  assertMinRank(op, 'x', x, 1);
  const inputs: MbqHadamardTransformInputs = { x };
  const attrs: MbqHadamardTransformAttrs = { inverse: options.inverse === true };
  return tf.engine().runKernel(MbqHadamardTransform, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
}
