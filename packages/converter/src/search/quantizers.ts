/**
 * The one place where search/, sensitivity/ and rotate/ reach the quantization numerics
 * (docs/algorithm.md §4.4, §5). Everything here delegates to @tfjs-mbq/ops so that the converter,
 * the kernels and the tests agree bit for bit; nothing is re-implemented on this side.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  hadamardMatrix as opsHadamardMatrix, hadamardPlan, mbqReconstructionLoss, pseudoQuantize,
  quantizeActivationPerToken, uniformReconstructionLoss,
} from '@tfjs-mbq/ops';
import type { LossMode } from './types.js';

/** Asymmetric group-wise fake quantization of a weight [N, K] along K (weight-only path). */
export function fakeQuantWeightGroupwise(w: tf.Tensor2D, bits: number, groupSize: number): tf.Tensor2D {
  return pseudoQuantize(w, { bits, mode: 'asym-group', groupSize }) as tf.Tensor2D;
}

/** Symmetric per-output-channel fake quantization of a weight [N, K] (weight-activation path). */
export function fakeQuantWeightPerChannel(w: tf.Tensor2D, bits: number): tf.Tensor2D {
  return pseudoQuantize(w, { bits, mode: 'sym-channel' }) as tf.Tensor2D;
}

/** Symmetric per-token fake quantization of activations [T, K]. */
export function fakeQuantActivationPerToken(x: tf.Tensor2D, bits: number): tf.Tensor2D {
  return quantizeActivationPerToken(x, { bits }) as tf.Tensor2D;
}

/** MBQ's modality-weighted reconstruction loss (docs/algorithm.md §4.4). */
export function modalityWeightedLoss(
  reference: tf.Tensor2D, output: tf.Tensor2D, visionMask: tf.Tensor1D, captionMask: tf.Tensor1D,
  ratio: number, mode: LossMode,
): tf.Scalar {
  return mbqReconstructionLoss(reference, output, visionMask, captionMask, ratio, mode);
}

/** AWQ's loss: mean of (O' - O)^2 over all positions and channels. */
export function uniformLoss(reference: tf.Tensor2D, output: tf.Tensor2D): tf.Scalar {
  return uniformReconstructionLoss(reference, output);
}

/**
 * Diagnostics only (not a search objective): mean (O' - O)^2 over the vision positions and over
 * the caption positions separately, as a tensor [vision, caption]; 0 for an empty set. Shows which
 * modality a chosen scale favoured (docs/results.md). A tensor, so a search reads it with its losses.
 */
export function modalityMse(reference: tf.Tensor2D, output: tf.Tensor2D, visionMask: tf.Tensor1D, captionMask: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const perToken = tf.mean(tf.square(tf.sub(output, reference)), 1);
    const masked = (m: tf.Tensor1D): tf.Tensor => {
      const w = tf.cast(m, 'float32');
      return tf.div(tf.sum(tf.mul(perToken, w)), tf.maximum(tf.sum(w), 1));
    };
    return tf.stack([masked(visionMask), masked(captionMask)]) as tf.Tensor1D;
  });
}

/**
 * Dense orthonormal Hadamard matrix H [n, n] (H Hᵀ = I), the one hadamardTransform applies as x · H:
 * exact for n = 2^k·m (m in 1, 12, 20, 28), block-diagonal otherwise (see hadamardConstruction).
 */
export function hadamardMatrix(n: number): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(opsHadamardMatrix(n)), [n, n]);
}

/** How the Hadamard matrix of size n is built, e.g. "H_128 ⊗ Paley II(13) [28]"; exact = not block-diagonal. */
export function hadamardConstruction(n: number): { construction: string; exact: boolean } {
  const plan = hadamardPlan(n);
  return { construction: plan.construction, exact: plan.exact };
}
