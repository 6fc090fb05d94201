/**
 * SmoothQuant's fixed-alpha equalisation scale (ALGORITHM.md §6 baseline), as smoothquant's
 * smooth_ln_fcs computes it:
 *   s[c] = max(max_t |X[t, c]|, 1e-5)^alpha / max(max over all scaled linears' rows |W[:, c]|, 1e-5)^(1 - alpha),
 * clamped to >= 1e-5. No normalisation and no search.
 */
import * as tf from '@tensorflow/tfjs-core';

export function smoothQuantScales(input: tf.Tensor2D, weights: tf.Tensor2D[], alpha: number): Float32Array {
  if (weights.length === 0) throw new Error('smoothQuantScales: no weights');
  const k = input.shape[1];
  for (const w of weights) {
    if (w.shape[1] !== k) throw new Error(`smoothQuantScales: weight [${w.shape}] does not match input width ${k}`);
  }
  const [actMax, weightMax] = tf.tidy(() => {
    const a = tf.max(tf.abs(input), 0);
    const w = tf.max(tf.concat(weights.map((x) => tf.max(tf.abs(x), 0, true)), 0), 0);
    return [a.dataSync() as Float32Array, w.dataSync() as Float32Array];
  });
  const out = new Float32Array(k);
  for (let c = 0; c < k; c++) {
    const a = Math.max(actMax[c], 1e-5);
    const w = Math.max(weightMax[c], 1e-5);
    out[c] = Math.max(Math.pow(a, alpha) / Math.pow(w, 1 - alpha), 1e-5);
  }
  return out;
}
