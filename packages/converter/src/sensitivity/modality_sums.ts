/**
 * What the sensitivity keeps of a probe's gradient (docs/algorithm.md §3.2): per sample, the sum of
 * |dLoss/dY| over its vision rows and over its caption rows (padding is in neither).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface ModalityMasks {
  /** [B, S, 1], 1 on a sample's vision (resp. caption) positions. */
  vision: tf.Tensor3D;
  caption: tf.Tensor3D;
}

export function modalityMasks(
  samples: readonly { inputIds: ArrayLike<number>; visionMask: ArrayLike<number>; captionMask: ArrayLike<number> }[], seqLen: number,
): ModalityMasks {
  const B = samples.length;
  const vis = new Float32Array(B * seqLen);
  const txt = new Float32Array(B * seqLen);
  samples.forEach((s, b) => {
    for (let p = 0; p < s.inputIds.length; p++) {
      vis[b * seqLen + p] = s.visionMask[p] ? 1 : 0;
      txt[b * seqLen + p] = s.captionMask[p] ? 1 : 0;
    }
  });
  return { vision: tf.tensor3d(vis, [B, seqLen, 1]), caption: tf.tensor3d(txt, [B, seqLen, 1]) };
}

/** g [B, S, C] -> [B, 2]: per sample, sum |g| over vision rows, then over caption rows. */
export function modalitySums(g: tf.Tensor, masks: ModalityMasks): tf.Tensor2D {
  return tf.tidy(() => {
    const a = tf.abs(g);
    return tf.stack([tf.sum(tf.mul(a, masks.vision), [1, 2]), tf.sum(tf.mul(a, masks.caption), [1, 2])], 1) as tf.Tensor2D;
  });
}
