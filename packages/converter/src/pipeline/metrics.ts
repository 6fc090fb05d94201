/**
 * The converter's checks on the calibration batch: caption loss, top-1 agreement, relative error.
 * Each is taken over one pass's logits [n, S, V] (samples b0 .. b0 + n - 1 of the batch, see
 * CalibRun) and combined over the passes; with one pass (all samples) the kernels are those of a
 * whole-batch computation, and with several each pass's rows are the whole batch's rows.
 */
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

/** log p(caption token) of the pass's caption positions, in batch order ([rows]); the caller frees it. */
export function captionLogProbs(logits: tf.Tensor, batch: CalibBatch, b0: number): tf.Tensor1D {
  return tf.tidy(() => {
    const V = logits.shape[2]!;
    const n = logits.shape[0]!;
    const rows: number[] = [];
    const targets: number[] = [];
    let t = batch.lengths.slice(0, b0).reduce((a, l) => a + l, 0);
    for (let b = b0; b < b0 + n; b++) {
      for (let p = 0; p < batch.lengths[b]; p++, t++) {
        // A caption token at p is predicted by the logits at p - 1.
        if (batch.captionMask[t] && p > 0) {
          rows.push((b - b0) * batch.seqLen + p - 1);
          targets.push(batch.inputIds[b * batch.seqLen + p]);
        }
      }
    }
    const l = tf.gather(tf.reshape(logits, [-1, V]), tf.tensor1d(rows, 'int32'));
    const logp = tf.logSoftmax(l);
    return tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), V)), 1) as tf.Tensor1D;
  });
}

/** 1 where q's top-1 token equals f's at the pass's caption predictions, else 0 ([rows], batch order); the caller frees it. */
export function top1Matches(q: tf.Tensor, f: tf.Tensor, batch: CalibBatch, b0: number): tf.Tensor1D {
  return tf.tidy(() => {
    const V = f.shape[2]!;
    const first = b0 * batch.seqLen;
    const end = (b0 + f.shape[0]!) * batch.seqLen;
    const rows: number[] = [];
    // The prediction of the caption token at row r is made at row r - 1 (same sample: r is not its first row).
    for (let t = 1; t < batch.validRows.length; t++) {
      const r = batch.validRows[t] - 1;
      if (batch.captionMask[t] && batch.validRows[t - 1] === r && r >= first && r < end) rows.push(r - first);
    }
    const idx = tf.tensor1d(rows, 'int32');
    const a = tf.argMax(tf.gather(tf.reshape(q, [-1, V]), idx), 1);
    const b = tf.argMax(tf.gather(tf.reshape(f, [-1, V]), idx), 1);
    return tf.cast(tf.equal(a, b), 'float32') as tf.Tensor1D;
  });
}

/** The mean of the passes' values in order (the mean caption log-probability, the top-1 agreement); frees them. */
export async function meanOver(parts: tf.Tensor1D[]): Promise<number> {
  try {
    return await readScalar(tf.tidy(() => tf.mean(parts.length === 1 ? parts[0] : tf.concat(parts))));
  } finally {
    tf.dispose(parts);
  }
}

/** [max |a - b|, max |b|] of one pass, both read in one transfer. */
export async function differenceMaxima(a: tf.Tensor, b: tf.Tensor): Promise<[number, number]> {
  const t = tf.tidy(() => tf.stack([tf.max(tf.abs(tf.sub(a, b))), tf.max(tf.abs(b))]));
  try {
    const [num, den] = await t.data();
    return [num, den];
  } finally {
    t.dispose();
  }
}

/** max |a - b| / max |b| from the passes' maxima. */
export function relativeErrorOf(maxima: readonly [number, number][]): number {
  const num = Math.max(...maxima.map((m) => m[0]));
  const den = Math.max(...maxima.map((m) => m[1]));
  return num / Math.max(den, 1e-12);
}
