import * as tf from '@tensorflow/tfjs-core';
import { MbqUniformReconstructionLoss, MbqUniformReconstructionLossInputs } from '../kernel_names.js';
import { assertDtype, assertTensor, fail, sameShape } from './validate.js';

/** AWQ's loss: mean of (output - reference)² over all positions and channels (float32 scalar). */
export function uniformReconstructionLoss(reference: tf.Tensor, output: tf.Tensor): tf.Scalar {
  const op = 'uniformReconstructionLoss';
  assertTensor(op, 'reference', reference);
  assertTensor(op, 'output', output);
  assertDtype(op, 'reference', reference, 'float32');
  assertDtype(op, 'output', output, 'float32');
  if (!sameShape(reference.shape, output.shape)) fail(op, `reference [${reference.shape}] and output [${output.shape}] must have the same shape`);
  if (reference.size === 0) fail(op, 'reference is empty');
  const inputs: MbqUniformReconstructionLossInputs = { reference, output };
  return tf.engine().runKernel(MbqUniformReconstructionLoss, inputs as unknown as tf.NamedTensorMap, {});
}
