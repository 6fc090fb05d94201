import * as tf from '@tensorflow/tfjs-core';
import { MbqAddRmsNorm, MbqAddRmsNormAttrs, MbqAddRmsNormInputs } from '../kernel_names.js';
import { addRmsNormDims } from '../kernels/fused_common.js';
import { assertDtype, assertTensor, fail } from './validate.js';

/**
 * A residual add and the RMSNorm that reads it, in one kernel: sum = x + residual (same shape),
 * y = sum · rsqrt(mean(sum², last axis) + eps) · gamma. Returns [y, sum]. No gradient.
 */
export function addRmsNorm(x: tf.Tensor, residual: tf.Tensor, gamma: tf.Tensor, eps: number): [tf.Tensor, tf.Tensor] {
  const op = 'addRmsNorm';
  assertTensor(op, 'x', x);
  assertTensor(op, 'residual', residual);
  assertTensor(op, 'gamma', gamma);
  for (const [name, t] of [['x', x], ['residual', residual], ['gamma', gamma]] as const) assertDtype(op, name, t, 'float32');
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) fail(op, `eps must be a finite non-negative number, got ${String(eps)}`);
  addRmsNormDims(x.shape, residual.shape, gamma.shape);
  const inputs: MbqAddRmsNormInputs = { x, residual, gamma };
  const attrs: MbqAddRmsNormAttrs = { eps };
  const [y, sum] = tf.engine().runKernel(MbqAddRmsNorm, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return [y!, sum!];
}
