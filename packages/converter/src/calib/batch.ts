/**
 * The calibration samples as one right-padded batch. The LM is causal, so padding after a
 * sequence does not change its positions; `validRows` picks the real tokens out of [B*S, C].
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CalibSample } from './load.js';

export interface CalibBatch {
  batch: number;
  seqLen: number;
  /** Real length of each sample. */
  lengths: number[];
  inputIds: Int32Array; // [B, S]
  pixels: Float32Array; // [B, H, W, 3]
  imageSize: [number, number];
  /** Flat indices b*S + p of the real tokens, in order: the T rows every ScaleGroup holds. */
  validRows: Int32Array;
  /** Over the T real tokens. */
  visionMask: Float32Array;
  captionMask: Float32Array;
}

export function makeBatch(samples: readonly CalibSample[], imageSize: [number, number], padId: number): CalibBatch {
  const lengths = samples.map((s) => s.inputIds.length);
  const seqLen = Math.max(...lengths);
  const B = samples.length;
  const inputIds = new Int32Array(B * seqLen).fill(padId);
  const [h, w] = imageSize;
  const pixels = new Float32Array(B * h * w * 3);
  const T = lengths.reduce((a, b) => a + b, 0);
  const validRows = new Int32Array(T);
  const visionMask = new Float32Array(T);
  const captionMask = new Float32Array(T);
  let t = 0;
  samples.forEach((s, b) => {
    inputIds.set(s.inputIds, b * seqLen);
    pixels.set(s.pixels, b * h * w * 3);
    for (let p = 0; p < s.inputIds.length; p++, t++) {
      validRows[t] = b * seqLen + p;
      visionMask[t] = s.visionMask[p];
      captionMask[t] = s.captionMask[p];
    }
  });
  return { batch: B, seqLen, lengths, inputIds, pixels, imageSize, validRows, visionMask, captionMask };
}

export function batchFeeds(b: CalibBatch): { input_ids: tf.Tensor2D; pixel_values: tf.Tensor4D } {
  return {
    input_ids: tf.tensor2d(b.inputIds, [b.batch, b.seqLen], 'int32'),
    pixel_values: tf.tensor4d(b.pixels, [b.batch, b.imageSize[0], b.imageSize[1], 3]),
  };
}

/** [B, S, C] (or [B*S, C]) -> [T, C]: the rows of real tokens. */
export function gatherValid(x: tf.Tensor, validRows: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const c = x.shape[x.shape.length - 1];
    return tf.gather(tf.reshape(x, [-1, c]), validRows) as tf.Tensor2D;
  });
}
