/**
 * SmoothQuant's equalisation scale (docs/algorithm.md §6 baseline), as smoothquant's smooth_ln_fcs
 * computes it:
 *   s[c] = max(max_t |X[t, c]|, 1e-5)^alpha / max(max over all scaled linears' rows |W[:, c]|, 1e-5)^(1 - alpha),
 * clamped to >= 1e-5. No normalisation. The baseline uses alpha = 0.5 with no search; the
 * `smoothquant` scale family lets the AWQ/MBQ search try this formula over its alpha grid.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Per input channel: max |X| over tokens and max |W| over the rows of every scaled linear. */
export interface ChannelMaxima {
  actMax: Float32Array;
  weightMax: Float32Array;
}

/** The maxima as one device tensor [2, K] (rows: actMax, weightMax), so a caller reads it with other statistics. */
export function channelMaximaTensor(input: tf.Tensor2D, weights: tf.Tensor2D[]): tf.Tensor2D {
  if (weights.length === 0) throw new Error('smoothQuantScales: no weights');
  const k = input.shape[1];
  for (const w of weights) {
    if (w.shape[1] !== k) throw new Error(`smoothQuantScales: weight [${w.shape}] does not match input width ${k}`);
  }
  return tf.tidy(() => {
    const a = tf.max(tf.abs(input), 0, true);
    const w = tf.max(tf.concat(weights.map((x) => tf.max(tf.abs(x), 0, true)), 0), 0, true);
    return tf.concat([a, w], 0) as tf.Tensor2D;
  });
}

/** Splits the [2, K] values of channelMaximaTensor. */
export function channelMaximaFrom(values: Float32Array, k: number): ChannelMaxima {
  return { actMax: values.slice(0, k), weightMax: values.slice(k, 2 * k) };
}

export async function channelMaxima(input: tf.Tensor2D, weights: tf.Tensor2D[]): Promise<ChannelMaxima> {
  const t = channelMaximaTensor(input, weights);
  try {
    return channelMaximaFrom(await t.data() as Float32Array, input.shape[1]);
  } finally {
    t.dispose();
  }
}

/** The scale for one alpha from precomputed maxima (float64 on the host, rounded once). */
export function smoothQuantScalesFrom(m: ChannelMaxima, alpha: number): Float32Array {
  const out = new Float32Array(m.actMax.length);
  for (let c = 0; c < out.length; c++) {
    const a = Math.max(m.actMax[c], 1e-5);
    const w = Math.max(m.weightMax[c], 1e-5);
    out[c] = Math.max(Math.pow(a, alpha) / Math.pow(w, 1 - alpha), 1e-5);
  }
  return out;
}

export async function smoothQuantScales(input: tf.Tensor2D, weights: tf.Tensor2D[], alpha: number): Promise<Float32Array> {
  return smoothQuantScalesFrom(await channelMaxima(input, weights), alpha);
}
