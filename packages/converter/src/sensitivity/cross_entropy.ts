/**
 * The loss the sensitivity pass differentiates (docs/algorithm.md §3.1): mean cross-entropy of the
 * next-token prediction of the caption tokens. captionMask[p] = 1 marks a supervised token
 * inputIds[p] (answer/caption or EOS, §2), which logits[p - 1] predict.
 */
import * as tf from '@tensorflow/tfjs-core';

export function captionCrossEntropy(
  logits: tf.Tensor, inputIds: ArrayLike<number>, captionMask: ArrayLike<number>,
): tf.Scalar {
  const where = 'captionCrossEntropy';
  const shape = logits.shape;
  if (!(shape.length === 2 || (shape.length === 3 && shape[0] === 1))) {
    throw new Error(`${where}: logits must be [seq, vocab] or [1, seq, vocab], got [${shape}]`);
  }
  const seq = shape[shape.length - 2];
  const vocab = shape[shape.length - 1];
  if (inputIds.length !== seq || captionMask.length !== seq) {
    throw new Error(`${where}: logits have ${seq} positions but inputIds has ${inputIds.length} and captionMask ${captionMask.length}`);
  }
  const targets = new Int32Array(seq);
  const weights = new Float32Array(seq);
  let count = 0;
  for (let p = 0; p < seq; p++) if (captionMask[p]) count++;
  if (count === 0) throw new Error(`${where}: captionMask marks no position`);
  for (let p = 0; p < seq; p++) {
    if (!captionMask[p]) continue;
    if (p === 0) throw new Error(`${where}: captionMask marks position 0, which no earlier position predicts`);
    const t = inputIds[p];
    if (!Number.isInteger(t) || t < 0 || t >= vocab) throw new Error(`${where}: token id ${t} at position ${p} is outside the vocabulary [0, ${vocab})`);
    targets[p - 1] = t;
    weights[p - 1] = 1 / count;
  }
  return tf.tidy(() => {
    const l = tf.reshape(logits, [seq, vocab]);
    const logp = tf.logSoftmax(l);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), vocab)), 1);
    return tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(weights)))) as tf.Scalar;
  });
}

/**
 * The batched form of the same loss: the sum over a padded chunk's samples of each one's mean
 * caption cross-entropy. Samples in a causal batch are independent, so its gradient at a sample's
 * rows is that sample's own. Dense target weights [B*S, V] instead of a gather: wasm has no kernel
 * for gather's gradient.
 */
export function summedCaptionLoss(
  logits: tf.Tensor, samples: readonly { inputIds: ArrayLike<number>; captionMask: ArrayLike<number> }[], seqLen: number,
): tf.Scalar {
  const V = logits.shape[logits.rank - 1];
  const target = new Float32Array(samples.length * seqLen * V);
  samples.forEach((s, b) => {
    let count = 0;
    for (let p = 1; p < s.inputIds.length; p++) if (s.captionMask[p]) count++;
    for (let p = 1; p < s.inputIds.length; p++) {
      if (s.captionMask[p]) target[(b * seqLen + p - 1) * V + s.inputIds[p]] = 1 / count;
    }
  });
  const logp = tf.logSoftmax(tf.reshape(logits, [-1, V]));
  return tf.neg(tf.sum(tf.mul(logp, tf.tensor2d(target, [samples.length * seqLen, V])))) as tf.Scalar;
}
