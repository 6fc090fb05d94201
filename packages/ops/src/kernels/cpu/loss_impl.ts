/**
 * Reconstruction losses of docs/algorithm.md §4.4 on typed arrays, accumulated in float64.
 * D = output - reference; rows are tokens (leading dims flattened), C = channels (last axis).
 */

/** Σ over channels of |D| (mae) or D² (mse) for each token row. */
export function rowErrorSums(reference: ArrayLike<number>, output: ArrayLike<number>, C: number, squared: boolean): Float64Array {
  const T = C === 0 ? 0 : reference.length / C;
  const sums = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let acc = 0;
    for (let c = t * C; c < (t + 1) * C; c++) {
      const d = output[c] - reference[c];
      acc += squared ? d * d : Math.abs(d);
    }
    sums[t] = acc;
  }
  return sums;
}

/**
 * mae: (Σ_caption |D| + r Σ_vision |D|) / ((n_t + n_v) C);
 * mse: Σ_caption D² / (n_t C) + r Σ_vision D² / (n_v C).
 * A term whose positions are all absent contributes 0 (instead of 0/0).
 */
export function combineMbqLoss(rowSums: ArrayLike<number>, visionMask: ArrayLike<number>, captionMask: ArrayLike<number>, C: number, ratio: number, mode: 'mae' | 'mse'): number {
  let cap = 0, vis = 0, nt = 0, nv = 0;
  for (let t = 0; t < rowSums.length; t++) {
    if (captionMask[t] !== 0) { cap += rowSums[t]; nt++; }
    if (visionMask[t] !== 0) { vis += rowSums[t]; nv++; }
  }
  if (mode === 'mae') {
    const denom = (nt + nv) * C;
    return denom === 0 ? 0 : (cap + ratio * vis) / denom;
  }
  return (nt === 0 ? 0 : cap / (nt * C)) + ratio * (nv === 0 ? 0 : vis / (nv * C));
}

/** AWQ: mean of D² over all positions and channels. */
export function uniformLoss(reference: ArrayLike<number>, output: ArrayLike<number>): number {
  let acc = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = output[i] - reference[i];
    acc += d * d;
  }
  return reference.length === 0 ? 0 : acc / reference.length;
}
