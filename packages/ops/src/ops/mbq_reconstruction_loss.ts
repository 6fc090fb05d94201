import * as tf from '@tensorflow/tfjs-core';
import {
  MbqReconstructionLoss, MbqReconstructionLossAttrs, MbqReconstructionLossInputs, ReconstructionLossMode,
} from '../kernel_names.js';
import { assertDtype, assertMinRank, assertTensor, fail, sameShape } from './validate.js';

/**
 * MBQ reconstruction loss (docs/algorithm.md §4.4). D = output - reference over [..., C]; tokens are the
 * leading dims flattened; n_t, n_v count the caption and vision tokens; r = ratio.
 * - 'mae': (Σ_caption,C |D| + r Σ_vision,C |D|) / ((n_t + n_v) C)
 * - 'mse': Σ_caption,C D² / (n_t C) + r Σ_vision,C D² / (n_v C)
 * A term with no positions contributes 0. Masks (bool, int32 or float32; nonzero = set) have the
 * leading shape of reference, or are flat [tokens]. Returns a float32 scalar.
 */
export function mbqReconstructionLoss(
  reference: tf.Tensor, output: tf.Tensor, visionMask: tf.Tensor, captionMask: tf.Tensor,
  ratio: number, mode: ReconstructionLossMode = 'mae',
): tf.Scalar {
  const op = 'mbqReconstructionLoss';
  assertTensor(op, 'reference', reference);
  assertTensor(op, 'output', output);
  assertTensor(op, 'visionMask', visionMask);
  assertTensor(op, 'captionMask', captionMask);
  assertDtype(op, 'reference', reference, 'float32');
  assertDtype(op, 'output', output, 'float32');
  assertMinRank(op, 'reference', reference, 1);
  if (!sameShape(reference.shape, output.shape)) fail(op, `reference [${reference.shape}] and output [${output.shape}] must have the same shape`);
  const lead = reference.shape.slice(0, -1);
  const tokens = lead.reduce((a, b) => a * b, 1);
  for (const [name, m] of [['visionMask', visionMask], ['captionMask', captionMask]] as const) {
    assertDtype(op, name, m, 'bool', 'int32', 'float32');
    if (!sameShape(m.shape, lead) && !sameShape(m.shape, [tokens])) {
      fail(op, `${name} must have shape [${lead}] (the leading dims of reference) or [${tokens}], got [${m.shape}]`);
    }
  }
  if (typeof ratio !== 'number' || !Number.isFinite(ratio)) fail(op, `ratio must be a finite number, got ${String(ratio)}`);
  if (mode !== 'mae' && mode !== 'mse') fail(op, `mode must be 'mae' or 'mse', got '${String(mode)}'`);
  const inputs: MbqReconstructionLossInputs = { reference, output, visionMask, captionMask };
  const attrs: MbqReconstructionLossAttrs = { ratio, mode };
  return tf.engine().runKernel(MbqReconstructionLoss, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
}
