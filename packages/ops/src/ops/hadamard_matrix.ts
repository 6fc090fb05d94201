/**
 * Hadamard matrices for the rotation transform (pure TypeScript, shared by all kernels).
 *
 * Size n = 2^k · m with m in {1, 12, 20, 28}: H_n = H_{2^k} ⊗ H_m, where H_{2^k} is Sylvester's
 * and H_m comes from Paley's constructions: m = 12 and 20 from Paley I with q = 11 and 19
 * (primes ≡ 3 mod 4, order q + 1); m = 28 from Paley II with q = 13 (prime ≡ 1 mod 4, order
 * 2(q + 1)), which needs only arithmetic mod a prime (Paley I for 28 would need GF(27)).
 * Other sizes get a block-diagonal matrix of equal blocks: the largest supported size d that
 * divides n, repeated n / d times (d = 1, the identity, when n has no supported divisor > 1).
 * All matrices are scaled by 1/sqrt(d), so they are orthonormal.
 */

const HADAMARD_BASE_SIZES: readonly number[] = [1, 12, 20, 28];

export interface HadamardPlan {
  /** Size of the transformed axis. */
  n: number;
  /** Size of each diagonal block (n when the size is supported exactly). */
  blockSize: number;
  /** Number of diagonal blocks (n / blockSize). */
  blocks: number;
  /** blockSize = pow2 · base. */
  pow2: number;
  base: number;
  /** True when H is a full Hadamard matrix of size n (no block-diagonal fallback). */
  exact: boolean;
  /** Human-readable construction, e.g. "H_128 ⊗ Paley II(13) [28]". */
  construction: string;
  /** 1 / sqrt(blockSize) as float32 (applied once per block). */
  scale: number;
}

function largestPow2Dividing(n: number): number {
  let p = 1;
  while (n % (p * 2) === 0) p *= 2;
  return p;
}

function baseName(m: number): string {
  switch (m) {
    case 1: return '';
    case 12: return ' ⊗ Paley I(11) [12]';
    case 20: return ' ⊗ Paley I(19) [20]';
    case 28: return ' ⊗ Paley II(13) [28]';
    default: throw new Error(`hadamard: no construction for base size ${m}`);
  }
}

/** Which orthonormal transform hadamardTransform applies to an axis of size n. */
export function hadamardPlan(n: number): HadamardPlan {
  if (!Number.isInteger(n) || n < 1) throw new Error(`hadamardPlan: size must be a positive integer, got ${n}`);
  let best = { d: 1, pow2: 1, base: 1 };
  for (const m of HADAMARD_BASE_SIZES) {
    if (n % m !== 0) continue;
    const pow2 = largestPow2Dividing(n / m);
    const d = pow2 * m;
    if (d > best.d) best = { d, pow2, base: m };
  }
  const blocks = n / best.d;
  const one = `H_${best.pow2}${baseName(best.base)}`;
  return {
    n,
    blockSize: best.d,
    blocks,
    pow2: best.pow2,
    base: best.base,
    exact: blocks === 1,
    construction: blocks === 1 ? one : `block-diagonal ${blocks} x (${one}) [${best.d}]`,
    scale: Math.fround(1 / Math.sqrt(best.d)),
  };
}

function isPrime(q: number): boolean {
  if (q < 2) return false;
  for (let d = 2; d * d <= q; d++) if (q % d === 0) return false;
  return true;
}

/** Legendre symbol χ(a) mod prime q: 0, 1 (square) or -1. */
function legendreTable(q: number): Int8Array {
  const chi = new Int8Array(q).fill(-1);
  chi[0] = 0;
  for (let x = 1; x < q; x++) chi[(x * x) % q] = 1;
  return chi;
}

/** Paley I: q prime ≡ 3 (mod 4) -> ±1 Hadamard matrix of order q + 1 (row-major). */
export function paleyI(q: number): Int8Array {
  if (!isPrime(q) || q % 4 !== 3) throw new Error(`paleyI: q must be a prime ≡ 3 mod 4, got ${q}`);
  const n = q + 1;
  const chi = legendreTable(q);
  const h = new Int8Array(n * n);
  // S = [[0, 1ᵀ], [-1, Q]] with Q[i][j] = χ(j - i) skew-symmetric; H = I + S.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s: number;
      if (i === 0) s = j === 0 ? 0 : 1;
      else if (j === 0) s = -1;
      else s = chi[(((j - i) % q) + q) % q];
      h[i * n + j] = s + (i === j ? 1 : 0);
    }
  }
  return h;
}

/** Paley II: q prime ≡ 1 (mod 4) -> ±1 Hadamard matrix of order 2(q + 1) (row-major, symmetric). */
export function paleyII(q: number): Int8Array {
  if (!isPrime(q) || q % 4 !== 1) throw new Error(`paleyII: q must be a prime ≡ 1 mod 4, got ${q}`);
  const c = q + 1;
  const chi = legendreTable(q);
  // Symmetric conference matrix C = [[0, 1ᵀ], [1, Q]]; H = C ⊗ [[1,-1],[-1,-1]] + I ⊗ [[1,1],[1,-1]].
  const conf = (i: number, j: number): number => {
    if (i === 0) return j === 0 ? 0 : 1;
    if (j === 0) return 1;
    return chi[(((j - i) % q) + q) % q];
  };
  const P = [[1, -1], [-1, -1]];
  const R = [[1, 1], [1, -1]];
  const n = 2 * c;
  const h = new Int8Array(n * n);
  for (let a = 0; a < c; a++) {
    for (let b = 0; b < c; b++) {
      for (let x = 0; x < 2; x++) {
        for (let y = 0; y < 2; y++) {
          h[(2 * a + x) * n + 2 * b + y] = conf(a, b) * P[x][y] + (a === b ? R[x][y] : 0);
        }
      }
    }
  }
  return h;
}

const baseCache = new Map<number, Int8Array>();

/** The ±1 base matrix H_m (m in {1, 12, 20, 28}), row-major [m, m]. */
export function hadamardBase(m: number): Int8Array {
  let h = baseCache.get(m);
  if (!h) {
    switch (m) {
      case 1: h = Int8Array.of(1); break;
      case 12: h = paleyI(11); break;
      case 20: h = paleyI(19); break;
      case 28: h = paleyII(13); break;
      default: throw new Error(`hadamardBase: unsupported base size ${m}; expected one of ${HADAMARD_BASE_SIZES.join(', ')}`);
    }
    baseCache.set(m, h);
  }
  return h;
}

function popcountParity(v: number): number {
  let p = 0;
  while (v) { p ^= 1; v &= v - 1; }
  return p;
}

/**
 * The dense orthonormal matrix M [n, n] (row-major, float64) that hadamardTransform applies:
 * y = x · M along the last axis (inverse: y = x · Mᵀ). For folding rotations into weights:
 * x · W = (x · M) · (Mᵀ · W).
 */
export function hadamardMatrix(n: number, opts: { inverse?: boolean } = {}): Float64Array {
  const plan = hadamardPlan(n);
  const { blockSize: d, base: m } = plan;
  const hm = hadamardBase(m);
  const s = 1 / Math.sqrt(d);
  const out = new Float64Array(n * n);
  for (let b = 0; b < plan.blocks; b++) {
    const o = b * d;
    for (let i = 0; i < d; i++) {
      const i1 = Math.floor(i / m), i2 = i % m;
      for (let j = 0; j < d; j++) {
        const j1 = Math.floor(j / m), j2 = j % m;
        const sylvester = popcountParity(i1 & j1) ? -1 : 1;
        const v = sylvester * hm[i2 * m + j2] * s;
        if (opts.inverse) out[(o + j) * n + o + i] = v;
        else out[(o + i) * n + o + j] = v;
      }
    }
  }
  return out;
}
