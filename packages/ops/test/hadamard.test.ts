import * as tf from '@tensorflow/tfjs-core';
import { hadamardMatrix, hadamardPlan, hadamardTransform, paleyI, paleyII } from '@tfjs-mbq/ops';
import { BACKENDS, freshSeed, makeRng, maxAbs, maxAbsDiff, randomData, useBackend } from './ops_test_util.js';

const seed = freshSeed();

/** C = A [r, k] · B [k, c] in float64. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, r: number, k: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let p = 0; p < k; p++) {
      const v = a[i * k + p];
      if (v === 0) continue;
      for (let j = 0; j < c; j++) out[i * c + j] += v * b[p * c + j];
    }
  }
  return out;
}

function transpose(a: ArrayLike<number>, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j];
  return out;
}

/** max |A·Aᵀ - s·I|. */
function gramError(a: ArrayLike<number>, n: number, s: number): number {
  const g = matmul(a, transpose(a, n, n), n, n, n);
  let e = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) e = Math.max(e, Math.abs(g[i * n + j] - (i === j ? s : 0)));
  return e;
}

describe('Hadamard constructions', () => {
  it.each([
    ['Paley I q=11', 12, paleyI(11)],
    ['Paley I q=19', 20, paleyI(19)],
    ['Paley II q=13', 28, paleyII(13)],
  ] as const)('%s is a ±1 Hadamard matrix of order %i: H·Hᵀ = nI exactly', (_name, n, h) => {
    expect(h.length).toBe(n * n);
    expect(Array.from(h).every((v) => v === 1 || v === -1)).toBe(true);
    expect(gramError(h, n, n)).toBe(0);
  });

  it('rejects q that does not fit the construction', () => {
    expect(() => paleyI(13)).toThrow(/prime ≡ 3 mod 4/);
    expect(() => paleyII(11)).toThrow(/prime ≡ 1 mod 4/);
    expect(() => paleyI(27)).toThrow(/prime/);
  });

  it('plans: exact for 2^k·{1,12,20,28}, block-diagonal otherwise', () => {
    expect(hadamardPlan(3584)).toMatchObject({ exact: true, blockSize: 3584, pow2: 128, base: 28, blocks: 1 });
    expect(hadamardPlan(4096)).toMatchObject({ exact: true, pow2: 4096, base: 1 });
    expect(hadamardPlan(768)).toMatchObject({ exact: true, pow2: 64, base: 12 });
    expect(hadamardPlan(5120)).toMatchObject({ exact: true, pow2: 256, base: 20 });
    expect(hadamardPlan(11008)).toMatchObject({ exact: false, blockSize: 256, blocks: 43, base: 1 });
    expect(hadamardPlan(18944)).toMatchObject({ exact: false, blockSize: 512, blocks: 37 });
    expect(hadamardPlan(45)).toMatchObject({ exact: false, blockSize: 1, blocks: 45 });
    expect(hadamardPlan(11008).construction).toBe('block-diagonal 43 x (H_256) [256]');
    expect(hadamardPlan(3584).construction).toBe('H_128 ⊗ Paley II(13) [28]');
    expect(() => hadamardPlan(0)).toThrow(/positive integer/);
  });

  it.each([1, 2, 8, 12, 20, 28, 40, 56, 96, 112, 172, 45, 256])('hadamardMatrix(%i) is orthonormal: H·Hᵀ = I within 1e-5', (n) => {
    const h = hadamardMatrix(n);
    expect(gramError(h, n, 1)).toBeLessThan(1e-5);
    const hi = hadamardMatrix(n, { inverse: true });
    expect(maxAbsDiff(hi, transpose(h, n, n))).toBe(0);
  });
});

const perBackend = new Map<string, Map<string, Float32Array>>();

/** Dense H and Hᵀ per size, built once for all backends (n = 3584 is 100 MB of float64). */
const dense = new Map<number, { h: Float64Array; ht: Float64Array }>();
function denseOf(n: number): { h: Float64Array; ht: Float64Array } {
  let d = dense.get(n);
  if (!d) {
    d = { h: hadamardMatrix(n), ht: hadamardMatrix(n, { inverse: true }) };
    dense.set(n, d);
  }
  return d;
}

describe.each(BACKENDS)(`hadamardTransform on %s (seed ${seed})`, (backend) => {
  beforeAll(async () => { await useBackend(backend); });
  const got = new Map<string, Float32Array>();
  perBackend.set(backend, got);

  it('hand-computed: size 2 and 4', async () => {
    const s = Math.SQRT1_2;
    const y = await hadamardTransform(tf.tensor2d([[1, 2]])).data();
    expect(y[0]).toBeCloseTo(3 * s, 6);
    expect(y[1]).toBeCloseTo(-1 * s, 6);
    // H_4 = H_2 ⊗ H_2 / 2: [1, 0, 0, 0] -> first row [1, 1, 1, 1] / 2; [0, 1, 0, 0] -> [1, -1, 1, -1] / 2.
    const z = await hadamardTransform(tf.tensor2d([[1, 0, 0, 0], [0, 1, 0, 0]])).data();
    expect(Array.from(z)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, -0.5]);
  });

  it.each([16, 12, 20, 28, 56, 96, 160, 172, 45, 896])('x·H equals the dense float64 product within 1e-5 relative, and the inverse undoes it (n = %i)', async (n) => {
    const rng = makeRng(seed + n);
    const rows = n > 500 ? 2 : 7;
    const x = randomData(rng, rows * n);
    const { h, ht } = denseOf(n);
    const want = matmul(x, h, rows, n, n);
    const shape = rows === 7 ? [7, n] : [1, rows, n];
    const tx = tf.tensor(x, shape);
    const y = hadamardTransform(tx);
    expect(y.shape).toEqual(shape);
    const yv = (await y.data()) as Float32Array;
    expect(maxAbsDiff(yv, want)).toBeLessThanOrEqual(1e-5 * maxAbs(want));
    const back = await hadamardTransform(y, { inverse: true }).data();
    expect(maxAbsDiff(back, x)).toBeLessThanOrEqual(1e-5 * maxAbs(x));
    const inv = await hadamardTransform(tx, { inverse: true }).data();
    expect(maxAbsDiff(inv, matmul(x, ht, rows, n, n))).toBeLessThanOrEqual(1e-5 * maxAbs(want));
    got.set(`n${n}`, yv);
    tf.dispose([tx, y]);
  });

  it('Qwen2-7B width 3584 = 128·28: sampled columns equal the Kronecker formula (-1)^popcount(i1&j1)·PaleyII(13)[i2,j2]/sqrt(n)', async () => {
    const n = 3584, m = 28;
    const rng = makeRng(seed + n);
    const x = randomData(rng, 3 * n);
    const y = await hadamardTransform(tf.tensor2d(x, [3, n])).data();
    const p = paleyII(13);
    const parity = (v: number): number => { let c = 0; while (v) { c ^= 1; v &= v - 1; } return c; };
    let worst = 0, scale = 0;
    for (let s = 0; s < 40; s++) {
      const j = Math.floor(rng.uniform() * n);
      const j1 = Math.floor(j / m), j2 = j % m;
      for (let r = 0; r < 3; r++) {
        let acc = 0;
        for (let i = 0; i < n; i++) acc += x[r * n + i] * (parity(Math.floor(i / m) & j1) ? -1 : 1) * p[(i % m) * m + j2];
        acc /= Math.sqrt(n);
        worst = Math.max(worst, Math.abs(y[r * n + j] - acc));
        scale = Math.max(scale, Math.abs(acc));
      }
    }
    expect(worst).toBeLessThanOrEqual(1e-5 * scale);
    const back = await hadamardTransform(tf.tensor2d(y, [3, n]), { inverse: true }).data();
    expect(maxAbsDiff(back, x)).toBeLessThanOrEqual(1e-5 * maxAbs(x));
  });

  it.each([28, 96, 172])('rotation is exact: x·W equals (x·H)·(Hᵀ·W) within 1e-5 relative (n = %i)', async (n) => {
    const rng = makeRng(seed * 3 + n);
    const rows = 5, out = 19;
    const x = randomData(rng, rows * n);
    const w = randomData(rng, n * out);
    const xw = matmul(x, w, rows, n, out);
    const xh = await hadamardTransform(tf.tensor2d(x, [rows, n])).data();
    const htw = matmul(denseOf(n).ht, w, n, n, out);
    const rotated = matmul(xh, htw, rows, n, out);
    expect(maxAbsDiff(rotated, xw)).toBeLessThanOrEqual(1e-5 * maxAbs(xw));
  });
});

describe('hadamardTransform backends agree', () => {
  it('wasm and webgpu equal cpu bit for bit (same f32 steps in the same order)', () => {
    const cpu = perBackend.get('cpu')!;
    expect(cpu.size).toBe(10);
    for (const [key, c] of cpu) {
      expect(maxAbsDiff(perBackend.get('wasm')!.get(key)!, c)).toBe(0);
      expect(maxAbsDiff(perBackend.get('webgpu')!.get(key)!, c)).toBe(0);
    }
  });
});
