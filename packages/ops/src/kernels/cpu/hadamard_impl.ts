/**
 * Fast orthonormal Hadamard transform along the last axis: y = x · M (inverse: x · Mᵀ), M as in
 * hadamardMatrix(n). Per block of size d = 2^k · m: first y[i1, :] = s · x[i1, :] · H_m (dense
 * m x m, m ≤ 28; s = 1/sqrt(d) as f32), then k Sylvester butterfly stages over i1. Every step is
 * rounded to f32 in the same order as the WGSL kernel, so cpu and webgpu agree bit for bit.
 */
import { hadamardBase, hadamardPlan } from '../../ops/hadamard_matrix.js';

const f32 = Math.fround;

export function hadamardTransformImpl(x: ArrayLike<number>, n: number, inverse: boolean): Float32Array {
  const plan = hadamardPlan(n);
  const { blockSize: d, base: m, pow2, scale: s } = plan;
  const h = hadamardBase(m);
  const out = new Float32Array(x.length);
  const tmp = new Float32Array(m);
  const segments = x.length / d;
  for (let seg = 0; seg < segments; seg++) {
    const o = seg * d;
    // H_m on each chunk of m consecutive elements (i1 fixed).
    for (let i1 = 0; i1 < pow2; i1++) {
      const c = o + i1 * m;
      for (let j2 = 0; j2 < m; j2++) {
        let acc = 0;
        for (let i2 = 0; i2 < m; i2++) {
          const hij = inverse ? h[j2 * m + i2] : h[i2 * m + j2];
          acc = f32(acc + x[c + i2] * hij);
        }
        tmp[j2] = f32(acc * s);
      }
      out.set(tmp, c);
    }
    // Sylvester butterflies over i1: (a, b) -> (a + b, a - b).
    for (let hstride = 1; hstride < pow2; hstride *= 2) {
      for (let i1 = 0; i1 < pow2; i1++) {
        if (i1 & hstride) continue;
        const p = o + i1 * m;
        const q = o + (i1 | hstride) * m;
        for (let j2 = 0; j2 < m; j2++) {
          const a = out[p + j2];
          const b = out[q + j2];
          out[p + j2] = f32(a + b);
          out[q + j2] = f32(a - b);
        }
      }
    }
  }
  return out;
}
