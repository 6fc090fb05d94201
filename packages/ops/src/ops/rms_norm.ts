import * as tf from '@tensorflow/tfjs-core';
import { MbqRmsNorm, MbqRmsNormAttrs, MbqRmsNormInputs } from '../kernel_names.js';
import { rmsNormDims } from '../kernels/fused_common.js';
import { assertDtype, assertTensor, fail } from './validate.js';

/** LLaMA's RMSNorm in one kernel: y = x · rsqrt(mean(x², last axis) + eps) · gamma, gamma [C]. No gradient. */
export function rmsNorm(x: tf.Tensor, gamma: tf.Tensor, eps: number): tf.Tensor {
  const op = 'rmsNorm';
  assertTensor(op, 'x', x);
  assertTensor(op, 'gamma', gamma);
  assertDtype(op, 'x', x, 'float32');
  assertDtype(op, 'gamma', gamma, 'float32');
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) fail(op, `eps must be a finite non-negative number, got ${String(eps)}`);
  rmsNormDims(x.shape, gamma.shape);
  const inputs: MbqRmsNormInputs = { x, gamma };
  const attrs: MbqRmsNormAttrs = { eps };
  return tf.engine().runKernel(MbqRmsNorm, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
}
