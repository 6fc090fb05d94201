/**
 * The gradient of the summed caption loss (cross_entropy.ts) at the last block's output h [B, S, C],
 * taken over runs of whole samples so that at most `headLogitsBytes` of logits [rows, vocab] exist
 * at once, with their log-softmax and dense targets (memory_limits.ts); the first run is one sample,
 * which tells the vocabulary size. The head (final norm, lm_head) works row by row and a sample's
 * loss reads its own rows only, so the runs' gradients, concatenated, are the one-step gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { summedCaptionLoss } from './cross_entropy.js';
import { headSamplesPerStep } from '../memory_limits.js';

export interface HeadSample { inputIds: ArrayLike<number>; captionMask: ArrayLike<number> }

export interface HeadGradientHooks {
  /** After each run (the executor frees the head's cached weights). */
  afterStep?: () => void;
  /** The error for a loss that is not finite. */
  notFinite: () => Error;
}

/** `logitsOf(x)` maps x [n, S, C] to logits [n, S, vocab] (differentiably); returns dLoss/dh [B, S, C]. */
export async function headGradient(
  logitsOf: (x: tf.Tensor) => tf.Tensor, h: Float32Array, shape: number[], samples: readonly HeadSample[],
  headLogitsBytes: number, hooks: HeadGradientHooks,
): Promise<tf.Tensor> {
  const [B, S] = shape;
  if (samples.length !== B) throw new Error(`headGradient: ${samples.length} samples for a batch of ${B}`);
  const sampleFloats = h.length / B;
  const parts: tf.Tensor[] = [];
  try {
    let step = 1;
    for (let b0 = 0, n = 1; b0 < B; b0 += n) {
      n = Math.min(step, B - b0);
      const x = tf.tensor(h.subarray(b0 * sampleFloats, (b0 + n) * sampleFloats), [n, ...shape.slice(1)]);
      let vocab = 0;
      try {
        const { value, grads } = tf.valueAndGrads((xi: tf.Tensor) => {
          const logits = logitsOf(xi);
          vocab = logits.shape[logits.rank - 1];
          return summedCaptionLoss(logits, samples.slice(b0, b0 + n), S);
        })([x]);
        parts.push(grads[0]);
        const loss = (await value.data())[0];
        value.dispose();
        if (!Number.isFinite(loss)) throw hooks.notFinite();
      } finally {
        x.dispose();
        hooks.afterStep?.();
      }
      if (b0 === 0) step = headSamplesPerStep(S, vocab, headLogitsBytes);
    }
    return parts.length === 1 ? parts.pop()! : tf.concat(parts, 0);
  } finally {
    tf.dispose(parts);
  }
}
