/** The converter's own checks on the calibration batch: caption loss, top-1 agreement, relative error. */
import * as tf from '@tensorflow/tfjs-core';
import type { CalibBatch } from '../calib/batch.js';

/** Reads a scalar from the device (asynchronously: tfjs-webgpu cannot read synchronously in Node) and frees it. */
async function readScalar(t: tf.Tensor): Promise<number> {
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
}

/** Mean caption cross-entropy over all samples (token-weighted) of a logits batch [B, S, V]. */
export async function captionLoss(logits: tf.Tensor, batch: CalibBatch): Promise<number> {
  return readScalar(tf.tidy(() => {
    const V = logits.shape[2]!;
    const rows: number[] = [];
    const targets: number[] = [];
    let t = 0;
    batch.lengths.forEach((len, b) => {
      for (let p = 0; p < len; p++, t++) {
        // A caption token at p is predicted by the logits at p - 1.
        if (batch.captionMask[t] && p > 0) {
          rows.push(b * batch.seqLen + p - 1);
          targets.push(batch.inputIds[b * batch.seqLen + p]);
        }
      }
    });
    const l = tf.gather(tf.reshape(logits, [-1, V]), tf.tensor1d(rows, 'int32'));
    const logp = tf.logSoftmax(l);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), V)), 1);
    return tf.neg(tf.mean(picked));
  }));
}

/** max |a - b| / max |b|, both maxima read in one transfer. */
export async function relativeError(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const t = tf.tidy(() => tf.stack([tf.max(tf.abs(tf.sub(a, b))), tf.max(tf.abs(b))]));
  try {
    const [num, den] = await t.data();
    return num / Math.max(den, 1e-12);
  } finally {
    t.dispose();
  }
}

/** Fraction of caption positions where q's top-1 token equals f's. */
export async function top1Agreement(q: tf.Tensor, f: tf.Tensor, batch: CalibBatch): Promise<number> {
  return readScalar(tf.tidy(() => {
    const V = f.shape[2]!;
    const rows: number[] = [];
    // The prediction of the caption token at row r is made at row r - 1 (same sample: r is not its first row).
    for (let t = 1; t < batch.validRows.length; t++) {
      if (batch.captionMask[t] && batch.validRows[t - 1] === batch.validRows[t] - 1) rows.push(batch.validRows[t] - 1);
    }
    const idx = tf.tensor1d(rows, 'int32');
    const a = tf.argMax(tf.gather(tf.reshape(q, [-1, V]), idx), 1);
    const b = tf.argMax(tf.gather(tf.reshape(f, [-1, V]), idx), 1);
    return tf.mean(tf.cast(tf.equal(a, b), 'float32'));
  }));
}
