/**
 * The one place where search/, sensitivity/ and rotate/ reach the quantization numerics
 * (ALGORITHM.md §4.4, §5). Everything here delegates to @tfjs-mbq/ops so that the converter,
 * the kernels and the tests agree bit for bit; nothing is re-implemented on this side.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LossMode } from './types.js';

/** Asymmetric group-wise fake quantization of a weight [N, K] along K (weight-only path). */
export function fakeQuantWeightGroupwise(w: tf.Tensor2D, bits: number, groupSize: number): tf.Tensor2D {
  return localPseudoQuantizeAsym(w, bits, groupSize);
}

/** Symmetric per-output-channel fake quantization of a weight [N, K] (weight-activation path). */
export function fakeQuantWeightPerChannel(w: tf.Tensor2D, bits: number): tf.Tensor2D {
  return localPseudoQuantizeSym(w, bits);
}

/** Symmetric per-token fake quantization of activations [T, K]. */
export function fakeQuantActivationPerToken(x: tf.Tensor2D, bits: number): tf.Tensor2D {
  return localPseudoQuantizeSym(x, bits);
}

/** MBQ's modality-weighted reconstruction loss (ALGORITHM.md §4.4). */
export function modalityWeightedLoss(
  reference: tf.Tensor2D, output: tf.Tensor2D, visionMask: tf.Tensor1D, captionMask: tf.Tensor1D,
  ratio: number, mode: LossMode,
): tf.Scalar {
  return localMbqLoss(reference, output, visionMask, captionMask, ratio, mode);
}

/** AWQ's loss: mean of (O' - O)^2 over all positions and channels. */
export function uniformLoss(reference: tf.Tensor2D, output: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.squaredDifference(output, reference)) as tf.Scalar);
}

/** Dense orthonormal Hadamard matrix H [n, n] (H Hᵀ = I). */
export function hadamardMatrix(n: number): tf.Tensor2D {
  return localSylvesterHadamard(n);
}

// ---- Local stand-ins until @tfjs-mbq/ops lands its ops (same formulas, ALGORITHM.md §5). ----

function localPseudoQuantizeAsym(w: tf.Tensor2D, bits: number, groupSize: number): tf.Tensor2D {
  const [n, k] = w.shape;
  return tf.tidy(() => {
    const qmax = 2 ** bits - 1;
    const g = tf.reshape(w, [(n * k) / groupSize, groupSize]);
    const max = tf.max(g, 1, true);
    const min = tf.min(g, 1, true);
    const scale = tf.div(tf.maximum(tf.sub(max, min), 1e-5), qmax);
    const zero = tf.clipByValue(tf.neg(tf.round(tf.div(min, scale))), 0, qmax);
    const q = tf.clipByValue(tf.add(tf.round(tf.div(g, scale)), zero), 0, qmax);
    return tf.reshape(tf.mul(tf.sub(q, zero), scale), [n, k]) as tf.Tensor2D;
  });
}

function localPseudoQuantizeSym(x: tf.Tensor2D, bits: number): tf.Tensor2D {
  return tf.tidy(() => {
    const qmax = 2 ** (bits - 1) - 1;
    const scale = tf.div(tf.maximum(tf.max(tf.abs(x), 1, true), 1e-5), qmax);
    const q = tf.clipByValue(tf.round(tf.div(x, scale)), -(2 ** (bits - 1)), qmax);
    return tf.mul(q, scale) as tf.Tensor2D;
  });
}

function localMbqLoss(
  reference: tf.Tensor2D, output: tf.Tensor2D, visionMask: tf.Tensor1D, captionMask: tf.Tensor1D,
  ratio: number, mode: LossMode,
): tf.Scalar {
  return tf.tidy(() => {
    const channels = reference.shape[1];
    const d = tf.sub(output, reference);
    const perToken = mode === 'mae' ? tf.sum(tf.abs(d), 1) : tf.sum(tf.square(d), 1);
    const capSum = tf.sum(tf.mul(perToken, captionMask));
    const visSum = tf.sum(tf.mul(perToken, visionMask));
    const nt = tf.sum(captionMask);
    const nv = tf.sum(visionMask);
    if (mode === 'mae') {
      return tf.div(tf.add(capSum, tf.mul(visSum, ratio)), tf.mul(tf.add(nt, nv), channels)) as tf.Scalar;
    }
    // An empty modality contributes nothing (its sum is 0; guard the 0/0).
    const capTerm = tf.div(capSum, tf.mul(tf.maximum(nt, 1), channels));
    const visTerm = tf.div(visSum, tf.mul(tf.maximum(nv, 1), channels));
    return tf.add(capTerm, tf.mul(visTerm, ratio)) as tf.Scalar;
  });
}

function localSylvesterHadamard(n: number): tf.Tensor2D {
  if (!Number.isInteger(n) || n < 1 || (n & (n - 1)) !== 0) {
    throw new Error(`hadamardMatrix: size ${n} is not a power of two`);
  }
  const data = new Float32Array(n * n);
  const norm = 1 / Math.sqrt(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      // Sylvester: H[i][j] = (-1)^popcount(i & j).
      let bitsSet = 0;
      for (let v = i & j; v; v &= v - 1) bitsSet++;
      data[i * n + j] = bitsSet & 1 ? -norm : norm;
    }
  }
  return tf.tensor2d(data, [n, n]);
}
