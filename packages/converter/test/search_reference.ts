/**
 * Float64 reference numerics for the search tests, written from docs/algorithm.md §4-§6 directly
 * (plain loops, no tfjs), plus a seeded PRNG. Matrices are row-major Float64Arrays.
 */
import { roundHalfEven } from '@tfjs-mbq/format';

export { mulberry32 } from '@tfjs-mbq/ops';

export function randn(rand: () => number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-12);
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  }
  return out;
}


/** Asymmetric group-wise fake quantization of rows (length k) in groups of g. */
export function asymQuant(w: ArrayLike<number>, n: number, k: number, bits: number, g: number): Float64Array {
  const out = new Float64Array(n * k);
  const qmax = 2 ** bits - 1;
  for (let r = 0; r < n; r++) {
    for (let g0 = 0; g0 < k; g0 += g) {
      let mx = -Infinity, mn = Infinity;
      for (let c = g0; c < g0 + g; c++) { mx = Math.max(mx, w[r * k + c]); mn = Math.min(mn, w[r * k + c]); }
      const scale = Math.max(mx - mn, 1e-5) / qmax;
      const zero = Math.min(Math.max(-roundHalfEven(mn / scale), 0), qmax);
      for (let c = g0; c < g0 + g; c++) {
        const q = Math.min(Math.max(roundHalfEven(w[r * k + c] / scale) + zero, 0), qmax);
        out[r * k + c] = (q - zero) * scale;
      }
    }
  }
  return out;
}

/** Symmetric fake quantization of each row (per output channel / per token). */
export function symQuantRows(x: ArrayLike<number>, n: number, k: number, bits: number): Float64Array {
  const out = new Float64Array(n * k);
  const qmax = 2 ** (bits - 1) - 1;
  for (let r = 0; r < n; r++) {
    let amax = 0;
    for (let c = 0; c < k; c++) amax = Math.max(amax, Math.abs(x[r * k + c]));
    const scale = Math.max(amax, 1e-5) / qmax;
    for (let c = 0; c < k; c++) {
      out[r * k + c] = Math.min(Math.max(roundHalfEven(x[r * k + c] / scale), -qmax - 1), qmax) * scale;
    }
  }
  return out;
}

/** X [t, k] · Wᵀ with W [n, k] -> [t, n]. */
export function matmulT(x: ArrayLike<number>, w: ArrayLike<number>, t: number, k: number, n: number): Float64Array {
  const out = new Float64Array(t * n);
  for (let i = 0; i < t; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let c = 0; c < k; c++) acc += x[i * k + c] * w[j * k + c];
      out[i * n + j] = acc;
    }
  }
  return out;
}

export function uniformMse(ref: ArrayLike<number>, out: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < ref.length; i++) s += (out[i] - ref[i]) ** 2;
  return s / ref.length;
}

export function mbqLoss(
  ref: ArrayLike<number>, out: ArrayLike<number>, c: number, vision: ArrayLike<number>, caption: ArrayLike<number>,
  ratio: number, mode: 'mae' | 'mse',
): number {
  let cap = 0, vis = 0, nt = 0, nv = 0;
  for (let p = 0; p < vision.length; p++) {
    let e = 0;
    for (let j = 0; j < c; j++) {
      const d = out[p * c + j] - ref[p * c + j];
      e += mode === 'mae' ? Math.abs(d) : d * d;
    }
    if (caption[p]) { cap += e; nt++; }
    if (vision[p]) { vis += e; nv++; }
  }
  if (mode === 'mae') return (cap + ratio * vis) / ((nt + nv) * c);
  return (nt ? cap / (nt * c) : 0) + ratio * (nv ? vis / (nv * c) : 0);
}

/** s = max(s_x^alpha, 1e-4) / sqrt(max * min), in float64. */
export function alphaScalesRef(sx: ArrayLike<number>, alpha: number): Float64Array {
  const s = Float64Array.from(sx, (v) => Math.max(Math.pow(v, alpha), 1e-4));
  let mx = -Infinity, mn = Infinity;
  for (const v of s) { mx = Math.max(mx, v); mn = Math.min(mn, v); }
  const norm = Math.sqrt(mx * mn);
  return s.map((v) => v / norm);
}
