/**
 * MbqQuantizedMatMul on the wasm backend: the SIMD kernel on the packed codes (default) against the
 * cpu reference, and the unpack + XNNPACK fallback.
 * Tolerance of the float path: the kernel sums in another order than the reference (per group,
 * zero points factored out), so each y[m, n] must agree to 1e-5 · Σ_k |x[m, k]| · |w[n, k]|
 * (float64), a bound on reordered float32 sums of K terms far above their rounding (~K · 2^-24)
 * and far below any indexing error. (The kernel's error scales with Σ|x|·|q|·s, not Σ|x|·|q - z|·s;
 * the two are within a small factor when a group's codes spread around its zero point, as every
 * min-max quantized group's do and as the random weights here do.) W4A8 must be bit-identical
 * (exact integer group sums).
 */
import * as tf from '@tensorflow/tfjs-core';
import { CACHE_UNPACKED_WEIGHTS, quantizedMatMul } from '@tfjs-mbq/ops';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { unpackedWeightCacheStats } from '../src/kernels/wasm/unpacked_weight_cache.js';
import { quantizedMatMulWasmPath, setQuantizedMatMulWasmOptions } from '../src/kernels/wasm/quantized_matmul.js';
import { GEMM_MIN_M, simdFamily } from '../src/kernels/wasm/simd/quantized_matmul_simd.js';
import { quantizeActivationsInt8 } from '../src/kernels/quantized_matmul_common.js';
import { cpuReference, mulberry32, randomLinear, RandomLinear, randomX, referenceAct8F64, referenceF64, relError, run } from './quantized_matmul_helpers.js';

const rand = mulberry32(20261203);

/** Largest |y - ref| / Σ_k |x||w| over all elements (Infinity for a non-finite y). */
function worstScaledError(y: Float32Array, ref: Float32Array, x: Float32Array, M: number, w: RandomLinear): number {
  const { N, K, groupSize, codes, scales, zeros } = w;
  const G = K / groupSize;
  let worst = 0;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const v = y[m * N + n];
      if (!Number.isFinite(v)) return Infinity;
      let mag = 0;
      for (let k = 0; k < K; k++) {
        const gi = n * G + Math.floor(k / groupSize);
        mag += Math.abs(x[m * K + k] * (codes[n * K + k] - zeros[gi]) * scales[gi]);
      }
      worst = Math.max(worst, Math.abs(v - ref[m * N + n]) / Math.max(mag, 1e-30));
    }
  }
  return worst;
}

/** W4A8 with the wasm options in force: bit-identical to the cpu reference, within 1e-6 of float64 on the same int8 codes. */
async function expectW4A8BitIdentical(M: number, N: number, K: number, g: number): Promise<void> {
  const w = randomLinear(rand, N, K, 4, g, g === K);
  const x = randomX(rand, M, K);
  const y = await run(x, [M, K], w, 8);
  expect(Array.from(y)).toEqual(Array.from(cpuReference(x, M, w, 8)));
  const { q, scale } = quantizeActivationsInt8(x, M, K);
  expect(relError(y, referenceAct8F64(q, scale, M, w))).toBeLessThan(1e-6);
}

// [bits, M, N, K, groupSize]: every bit width with groups 32/64/128/K, K not a multiple of 32
// (one group), N odd and not a multiple of 4, M 1..5 (tiles of 4, 2 and 1). Both kernel families
// run: chunk lanes where K and the group are multiples of the chunk (16/32/64/128 codes at
// 8/4/2/other bits), the general kernel elsewhere (e.g. 3 bits with group 32, K = 100).
const FLOAT_CASES: [number, number, number, number, number][] = [];
for (const bits of [2, 3, 4, 5, 6, 7, 8]) {
  FLOAT_CASES.push(
    [bits, 1, 37, 256, 32],
    [bits, 2, 13, 256, 64],
    [bits, 3, 9, 384, 128],
    [bits, 5, 7, 100, 100],
    [bits, 4, 5, 96, 96],
  );
}
// Group sizes that are not multiples of 32 take the code-by-code path.
const ODD_GROUP_CASES: [number, number, number, number, number][] = [
  [3, 2, 11, 120, 24], [4, 1, 6, 80, 40], [5, 3, 9, 60, 20], [2, 1, 3, 48, 16], [8, 5, 5, 40, 8], [7, 1, 13, 75, 25], [6, 4, 7, 45, 15],
];

describe('quantizedMatMul on wasm: SIMD kernel on the packed codes', () => {
  beforeAll(async () => {
    await initBackend('wasm');
    setQuantizedMatMulWasmOptions({ poisonOutput: true });
  });
  afterAll(() => setQuantizedMatMulWasmOptions({}));

  it('is the path taken (Node, single-threaded tfjs-wasm with SIMD)', () => {
    expect(quantizedMatMulWasmPath(tf.backend())).toEqual({ path: 'simd', reason: 'wasm SIMD kernel on the packed codes' });
  });

  it.each([...FLOAT_CASES, ...ODD_GROUP_CASES])('bits %i M=%i N=%i K=%i group %i matches the cpu reference', async (bits, M, N, K, g) => {
    const w = randomLinear(rand, N, K, bits, g);
    const x = randomX(rand, M, K);
    const y = await run(x, [M, K], w);
    expect(worstScaledError(y, cpuReference(x, M, w), x, M, w)).toBeLessThan(1e-5);
    expect(relError(y, referenceF64(x, M, w))).toBeLessThan(1e-6);
  });

  it('handles leading batch dims and large activations', async () => {
    const w = randomLinear(rand, 19, 128, 3, 32);
    const x = randomX(rand, 6, 128).map((v) => v * 1e6);
    const y = await run(x, [2, 3, 128], w);
    expect(worstScaledError(y, cpuReference(x, 6, w), x, 6, w)).toBeLessThan(1e-5);
  });

  it.each([
    [1, 9, 256, 256], [2, 13, 192, 32], [3, 7, 100, 100], [4, 5, 128, 64], [5, 11, 96, 32], [9, 6, 256, 128], [2, 5, 120, 24],
  ])('W4A8 M=%i N=%i K=%i group %i is bit-identical to the cpu reference', expectW4A8BitIdentical);

  it('keeps the weights packed: no unpacked copies, no extra tensors, even with MBQ_CACHE_UNPACKED_WEIGHTS', async () => {
    const w = randomLinear(rand, 21, 96, 4, 32, true);
    const x = randomX(rand, 3, 96);
    await run(x, [3, 96], w);
    const stats = { ...unpackedWeightCacheStats };
    const dataIds = tf.backend().numDataIds();
    const tensors = tf.memory().numTensors;
    tf.env().set(CACHE_UNPACKED_WEIGHTS, true);
    try {
      for (const act of [0, 8] as const) await run(x, [3, 96], w, act);
    } finally {
      tf.env().set(CACHE_UNPACKED_WEIGHTS, false);
    }
    expect(unpackedWeightCacheStats).toEqual(stats);
    expect(tf.backend().numDataIds()).toBe(dataIds);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});

// The GEMM kernel (M >= GEMM_MIN_M, float x, group % 32 == 0): [bits, M, N, K, groupSize] with
// N tails of the 8-row blocks (N = 1, 5, 13, 17), M tails of the 4-token tiles, groups 32..K.
const GEMM_CASES: [number, number, number, number, number][] = [];
for (const bits of [2, 3, 4, 5, 6, 7, 8]) {
  GEMM_CASES.push(
    [bits, GEMM_MIN_M, 13, 256, 32],
    [bits, 9, 8, 96, 96],
    [bits, 11, 17, 192, 64],
    [bits, 7, 1, 128, 128],
    [bits, 1, 5, 64, 32],
  );
}

describe('quantizedMatMul on wasm: SIMD GEMM kernel (several tokens)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
    // gemmMinM 1: the cases with M < GEMM_MIN_M run the GEMM kernel too.
    setQuantizedMatMulWasmOptions({ poisonOutput: true, gemmMinM: 1 });
  });
  afterAll(() => setQuantizedMatMulWasmOptions({}));

  it('is chosen from GEMM_MIN_M tokens with groups of whole 32-code blocks', () => {
    const c = { K: 256, groupSize: 128, bits: 3, actBits: 0 };
    expect(simdFamily({ ...c, M: GEMM_MIN_M })).toBe('gemm');
    expect(simdFamily({ ...c, M: GEMM_MIN_M - 1 })).toBe('lane');
    expect(simdFamily({ ...c, M: 75, bits: 4, actBits: 8 })).toBe('gemm');
    expect(simdFamily({ ...c, M: 75, K: 120, groupSize: 24 })).toBe('qmm');
  });

  // Integer zero points: w = (q - z)·s is the reference's float32 weight and each y[m, n] sums
  // fround(x·w) in increasing k like the reference, so the result is bit-identical.
  it.each(GEMM_CASES)('bits %i M=%i N=%i K=%i group %i is bit-identical to the cpu reference', async (bits, M, N, K, g) => {
    const w = randomLinear(rand, N, K, bits, g);
    const x = randomX(rand, M, K);
    const y = await run(x, [M, K], w);
    expect(Array.from(y)).toEqual(Array.from(cpuReference(x, M, w)));
    expect(relError(y, referenceF64(x, M, w))).toBeLessThan(1e-6);
  });

  // W4A8: int16 activations and weights, int32 group sums (dot_i16x8_s), groups combined like the reference.
  it.each([
    [GEMM_MIN_M, 13, 256, 32], [9, 8, 96, 96], [11, 17, 192, 64], [7, 1, 128, 128], [2, 5, 64, 32], [13, 9, 256, 256],
  ])('W4A8 M=%i N=%i K=%i group %i is bit-identical to the cpu reference', expectW4A8BitIdentical);

  it('fractional zero points and leading batch dims stay within float32 rounding of the reference', async () => {
    const w = randomLinear(rand, 21, 128, 4, 32);
    for (let i = 0; i < w.zeros.length; i++) w.zeros[i] = Math.fround(w.zeros[i] + rand() - 0.5);
    const x = randomX(rand, 14, 128);
    const y = await run(x, [2, 7, 128], w);
    expect(worstScaledError(y, cpuReference(x, 14, w), x, 14, w)).toBeLessThan(1e-5);
  });
});

describe('quantizedMatMul on wasm: unpack + XNNPACK fallback', () => {
  beforeAll(async () => {
    await initBackend('wasm');
    setQuantizedMatMulWasmOptions({ kernel: 'xnnpack' });
  });
  afterAll(() => setQuantizedMatMulWasmOptions({}));

  it('is the path taken when forced', () => {
    expect(quantizedMatMulWasmPath(tf.backend()).path).toBe('xnnpack');
  });

  // Weight-only runs through XNNPACK's float matmul (its own summation order): float64 tolerance.
  it.each([[2, 16], [3, 20], [4, 8], [5, 40], [8, 80]])('bits %i group %i matches float64 on odd sizes', async (bits, g) => {
    const w = randomLinear(rand, 13, 80, bits, g);
    const x = randomX(rand, 2 * 7, 80);
    const y = await run(x, [2, 7, 80], w);
    expect(relError(y, referenceF64(x, 14, w))).toBeLessThan(1e-6);
  });

  it('W4A8 gives exactly the cpu reference (integer group sums are exact in float32)', async () => {
    for (const [N, K, g, M] of [[7, 64, 64, 2], [19, 192, 32, 9], [5, 256, 128, 33]]) {
      const w4 = randomLinear(rand, N, K, 4, g, true);
      const x = randomX(rand, M, K);
      expect(Array.from(await run(x, [M, K], w4, 8))).toEqual(Array.from(cpuReference(x, M, w4, 8)));
    }
  });

  it('MBQ_CACHE_UNPACKED_WEIGHTS: unpacks a weight once, same results, a new scales tensor is not served stale', async () => {
    const w = randomLinear(rand, 21, 96, 4, 32, true);
    const packed = tf.tensor2d(w.packed, [w.N, w.packed.length / w.N], 'int32');
    const scales = tf.tensor2d(w.scales, [w.N, w.K / w.groupSize]);
    const zeros = tf.tensor2d(w.zeros, [w.N, w.K / w.groupSize]);
    const doubled = tf.mul(scales, 2) as tf.Tensor2D;
    const call = async (x: Float32Array, s: tf.Tensor2D, actBits: 0 | 8): Promise<number[]> => {
      const y = tf.tidy(() => quantizedMatMul(tf.tensor2d(x, [3, w.K]), packed, s, zeros, { bits: 4, groupSize: w.groupSize, inFeatures: w.K, actBits }));
      const v = Array.from(await y.data());
      y.dispose();
      return v;
    };
    const xs = [randomX(rand, 3, w.K), randomX(rand, 3, w.K), randomX(rand, 3, w.K)];
    const expected: number[][] = [];
    for (const act of [0, 8] as const) for (const x of xs) expected.push(await call(x, scales, act));
    const expectedDoubled = await call(xs[0], doubled, 0);
    tf.env().set(CACHE_UNPACKED_WEIGHTS, true);
    try {
      const before = { ...unpackedWeightCacheStats };
      const dataIds = tf.backend().numDataIds();
      const got: number[][] = [];
      for (const act of [0, 8] as const) for (const x of xs) got.push(await call(x, scales, act));
      expect(got).toEqual(expected);
      // One miss per layout (float wT for weight-only, per-group integer weights for W4A8), then hits.
      expect(unpackedWeightCacheStats.misses - before.misses).toBe(2);
      expect(unpackedWeightCacheStats.hits - before.hits).toBe(4);
      // What stays on the wasm heap: wT, and one [g, N] matrix per group (K / g = 3).
      expect(tf.backend().numDataIds() - dataIds).toBe(1 + 3);
      expect(await call(xs[0], doubled, 0)).toEqual(expectedDoubled);
      expect(unpackedWeightCacheStats.misses - before.misses).toBe(3);
      // The stale wT was released when the new scales replaced it.
      expect(tf.backend().numDataIds() - dataIds).toBe(1 + 3);
    } finally {
      tf.env().set(CACHE_UNPACKED_WEIGHTS, false);
      tf.dispose([packed, scales, zeros, doubled]);
    }
  });
});

describe('quantizedMatMul on wasm: both paths', () => {
  beforeAll(async () => { await initBackend('wasm'); });
  afterAll(() => setQuantizedMatMulWasmOptions({}));

  it.each(['simd', 'xnnpack'] as const)('%s frees every intermediate tensor', async (kernel) => {
    setQuantizedMatMulWasmOptions({ kernel });
    const w = randomLinear(rand, 9, 64, 4, 32, true);
    const x = randomX(rand, 4, 64);
    await run(x, [4, 64], w);
    const before = tf.memory().numTensors;
    const dataIds = tf.backend().numDataIds();
    for (const act of [0, 8] as const) await run(x, [4, 64], w, act);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.backend().numDataIds()).toBe(dataIds);
  });
});
