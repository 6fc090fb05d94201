import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import {
  applyLinearOverride, alphaGrid, meanAbsPerChannel, quantizeWeight, searchGroupScale, smoothQuantScales, weightQuantizer,
} from '../src/search/index.js';
import type { LinearOverride, QuantConfig, ScaleGroup, TokenWeighting } from '../src/search/index.js';
import {
  alphaScalesRef, asymQuant, matmulT, mbqLoss, mulberry32, randn, symQuantRows, uniformMse,
} from './search_reference.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const base: QuantConfig = { method: 'mbq', wBits: 3, groupSize: 8, loss: 'mae', distort: false, gridSize: 20 };

interface Toy {
  group: ScaleGroup;
  weighting: TokenWeighting;
  x: Float32Array;
  ws: Float32Array[];
  t: number;
  k: number;
  ns: number[];
  vision: Float32Array;
  caption: Float32Array;
  calls: Array<Map<string, LinearOverride>>;
  dispose(): void;
}

/**
 * A group of linears sharing X (like q/k/v); the compared module's output is their outputs side by
 * side. Channel `outlier` of X is scaled up on the tokens `outlierOn` selects (AWQ's premise).
 */
function makeToy(opts: {
  seed: number; t: number; k: number; ns: number[]; ratio: number;
  outlier?: number; outlierGain?: number; outlierOn?: (p: number) => boolean;
  vision?: (p: number) => boolean; caption?: (p: number) => boolean;
}): Toy {
  const rand = mulberry32(opts.seed);
  const { t, k, ns } = opts;
  const x = randn(rand, t * k);
  if (opts.outlier !== undefined) {
    for (let p = 0; p < t; p++) {
      if (!opts.outlierOn || opts.outlierOn(p)) x[p * k + opts.outlier] *= opts.outlierGain ?? 20;
    }
  }
  const ws = ns.map((n) => randn(rand, n * k));
  const vision = Float32Array.from({ length: t }, (_, p) => (opts.vision ?? ((q) => q < t / 2))(p) ? 1 : 0);
  const caption = Float32Array.from({ length: t }, (_, p) => (opts.caption ?? ((q) => q >= t / 2))(p) ? 1 : 0);
  const input = tf.tensor2d(x, [t, k]);
  const ids = ns.map((_, i) => `lin${i}`);
  const weights = new Map(ids.map((id, i) => [id, tf.tensor2d(ws[i], [ns[i], k])]));
  const calls: Array<Map<string, LinearOverride>> = [];
  const forward = (overrides: Map<string, LinearOverride>): tf.Tensor2D => {
    calls.push(overrides);
    return tf.tidy(() => tf.concat(ids.map((id) => {
      const o = overrides.get(id) ?? { weight: weights.get(id) as tf.Tensor2D };
      return applyLinearOverride(input, o);
    }), 1) as tf.Tensor2D);
  };
  const reference = forward(new Map());
  calls.length = 0;
  const group: ScaleGroup = { name: 'attn-in', linears: ids, weights, input, forward, reference };
  const weighting: TokenWeighting = {
    visionMask: tf.tensor1d(vision), captionMask: tf.tensor1d(caption), ratio: opts.ratio,
  };
  return {
    group, weighting, x, ws, t, k, ns, vision, caption, calls,
    dispose: () => {
      tf.dispose([input, reference, weighting.visionMask, weighting.captionMask, ...weights.values()]);
    },
  };
}

/** The float64 loss of one candidate scale, straight from docs/algorithm.md. */
function referenceLoss(toy: Toy, s: ArrayLike<number>, config: QuantConfig): number {
  const { t, k, ns, x } = toy;
  const c = ns.reduce((a, b) => a + b, 0);
  const ref = new Float64Array(t * c);
  const out = new Float64Array(t * c);
  let xin: ArrayLike<number> = x;
  if (config.aBits !== undefined) {
    const xs = Float64Array.from(x, (v, i) => v / s[i % k]);
    xin = symQuantRows(xs, t, k, config.aBits);
  }
  let col = 0;
  toy.ws.forEach((w, i) => {
    const n = ns[i];
    const scaled = Float64Array.from(w, (v, j) => v * s[j % k]);
    const q = config.aBits !== undefined
      ? symQuantRows(scaled, n, k, config.wBits)
      : asymQuant(scaled, n, k, config.wBits, config.groupSize).map((v, j) => v / s[j % k]);
    const r = matmulT(x, w, t, k, n);
    const o = matmulT(xin, q, t, k, n);
    for (let p = 0; p < t; p++) {
      for (let j = 0; j < n; j++) { ref[p * c + col + j] = r[p * n + j]; out[p * c + col + j] = o[p * n + j]; }
    }
    col += n;
  });
  return config.method === 'mbq'
    ? mbqLoss(ref, out, c, toy.vision, toy.caption, toy.weighting.ratio, config.loss)
    : uniformMse(ref, out);
}

/** Float64 per-channel maxima: of |X| over tokens (ax) and of |W| over every linear's rows (aw). */
function channelMaximaRef(toy: Toy): { ax: Float64Array; aw: Float64Array } {
  const ax = new Float64Array(toy.k);
  const aw = new Float64Array(toy.k);
  for (let p = 0; p < toy.t; p++) for (let c = 0; c < toy.k; c++) ax[c] = Math.max(ax[c], Math.abs(toy.x[p * toy.k + c]));
  for (const w of toy.ws) for (let j = 0; j < w.length; j++) aw[j % toy.k] = Math.max(aw[j % toy.k], Math.abs(w[j]));
  return { ax, aw };
}

function meanAbs(x: Float32Array, t: number, k: number): Float64Array {
  const s = new Float64Array(k);
  for (let p = 0; p < t; p++) for (let c = 0; c < k; c++) s[c] += Math.abs(x[p * k + c]);
  return s.map((v) => v / t);
}

function expectClose(actual: number, expected: number, rel: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected) + 1e-12);
}

describe('weight quantizers', () => {
  it('asymmetric group-wise matches the hand-computed values', () => {
    // Row 0, group [0, 1, 2, 3.1] at 2 bits: scale 3.1/3, zero 0, codes 0..3.
    // Row 0, group [-1, -1, -1, -1]: max - min = 0 -> scale 1e-5/3, zero clamps to 3: codes stay 0 -> (0 - 3) * scale.
    const w = tf.tensor2d([0, 1, 2, 3.1, -1, -1, -1, -1], [1, 8]);
    const q = quantizeWeight(w, weightQuantizer({ ...base, wBits: 2, groupSize: 4 }));
    const v = q.dataSync();
    const s = 3.1 / 3;
    [0, s, 2 * s, 3 * s].forEach((e, i) => expect(Math.abs(v[i] - e)).toBeLessThan(1e-6));
    for (let i = 4; i < 8; i++) expect(Math.abs(v[i] - -3 * (1e-5 / 3))).toBeLessThan(1e-9);
    tf.dispose([w, q]);
  });

  it('symmetric per-channel rounds half to even and clamps', () => {
    // absmax 3 at 3 bits -> scale 1: 0.5 -> 0, -2.5 -> -2, 1.5 -> 2.
    const w = tf.tensor2d([3, 0.5, -2.5, 1.5, 0.25, -0.5, 0.125, 0], [2, 4]);
    const q = quantizeWeight(w, weightQuantizer({ ...base, method: 'rtn', wBits: 3, aBits: 8 }));
    // Row 1: absmax 0.5 -> scale 0.5/3; 0.25/scale = 1.5 -> 2; -0.5 -> -3; 0.125/scale = 0.75 -> 1.
    const s = 0.5 / 3;
    const expected = [3, 0, -2, 2, 2 * s, -3 * s, s, 0];
    Array.from(q.dataSync()).forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThan(1e-6));
    tf.dispose([w, q]);
  });

  it('says which quantizer applies and rejects bad configs', () => {
    expect(weightQuantizer(base)).toEqual({ scheme: 'asym-group', bits: 3, groupSize: 8 });
    expect(weightQuantizer({ ...base, wBits: 4, aBits: 8 })).toEqual({ scheme: 'sym-channel', bits: 4, actBits: 8 });
    expect(() => weightQuantizer({ ...base, wBits: 9 })).toThrow(/wBits must be an integer from 2 to 8/);
    expect(() => weightQuantizer({ ...base, method: 'smoothquant' })).toThrow(/weight-activation only/);
    const w = tf.zeros([2, 12]) as tf.Tensor2D;
    expect(() => quantizeWeight(w, weightQuantizer(base), 'lm/x')).toThrow(/quantizeWeight\(lm\/x\): group size 8 does not divide K = 12/);
    w.dispose();
  });
});

describe('searchGroupScale', () => {
  it('alpha grid is i / 20 for i = 0..19', () => {
    const g = alphaGrid(20);
    expect(g.length).toBe(20);
    expect(g[0]).toBe(0);
    expect(g[19]).toBe(0.95);
    expect(g[1]).toBe(0.05);
  });

  it('rtn keeps s = 1, searches nothing, and reports the s = 1 loss', async () => {
    const toy = makeToy({ seed: 11, t: 24, k: 16, ns: [8], ratio: 0.3, outlier: 2 });
    const config: QuantConfig = { ...base, method: 'rtn' };
    const r = await searchGroupScale(toy.group, toy.weighting, config);
    expect(Array.from(r.scales)).toEqual(new Array(16).fill(1));
    expect(r.alpha).toBe(0);
    expect(r.lossCurve).toEqual([]);
    expect(r.lossBefore).toBe(r.lossAfter);
    expect(r.lossKind).toBe('uniform-mse');
    expect(toy.calls.length).toBe(1);
    expectClose(r.lossAfter, referenceLoss(toy, new Float64Array(16).fill(1), config), 1e-4);
    toy.dispose();
  });

  for (const method of ['awq', 'mbq'] as const) {
    it(`${method} picks the true best alpha when one input channel is an outlier`, async () => {
      const toy = makeToy({ seed: 7, t: 48, k: 24, ns: [10, 6], ratio: 0.2, outlier: 5, outlierGain: 25 });
      const config: QuantConfig = { ...base, method };
      const r = await searchGroupScale(toy.group, toy.weighting, config);
      expect(r.lossCurve.length).toBe(20);
      expect(toy.calls.length).toBe(20);
      const sx = meanAbs(toy.x, toy.t, toy.k);
      const refCurve = alphaGrid(20).map((a) => referenceLoss(toy, alphaScalesRef(sx, a), config));
      refCurve.forEach((v, i) => expectClose(r.lossCurve[i], v, 1e-3));
      const refBest = refCurve.indexOf(Math.min(...refCurve));
      // The pick is the reference minimum (or ties it within float32 noise).
      expectClose(refCurve[Math.round(r.alpha * 20)], refCurve[refBest], 1e-3);
      expect(r.alpha).toBe(alphaGrid(20)[r.lossCurve.indexOf(Math.min(...r.lossCurve))]);
      // Protecting the outlier channel must pay off: not RTN, and clearly better.
      expect(r.alpha).toBeGreaterThan(0);
      expect(r.lossAfter).toBeLessThan(0.8 * r.lossBefore);
      expect(r.lossBefore).toBe(r.lossCurve[0]);
      expect(r.lossAfter).toBe(Math.min(...r.lossCurve));
      // The returned scale is the candidate of the chosen alpha.
      const s = alphaScalesRef(sx, r.alpha);
      Array.from(r.scales).forEach((v, i) => expectClose(v, s[i], 1e-6));
      toy.dispose();
    });
  }

  it('mbq with mse on all-caption tokens equals awq: same loss curve, same alpha', async () => {
    const all = { vision: () => false, caption: () => true };
    const toy = makeToy({ seed: 3, t: 40, k: 16, ns: [12], ratio: 0.1, outlier: 9, ...all });
    const mbq = await searchGroupScale(toy.group, toy.weighting, { ...base, method: 'mbq', loss: 'mse' });
    const awq = await searchGroupScale(toy.group, toy.weighting, { ...base, method: 'awq' });
    mbq.lossCurve.forEach((v, i) => expectClose(v, awq.lossCurve[i], 1e-5));
    expect(mbq.alpha).toBe(awq.alpha);
    expect(Array.from(mbq.scales)).toEqual(Array.from(awq.scales));
    toy.dispose();
  });

  it('mbq follows the caption tokens when the outlier lives on vision tokens and the ratio is small', async () => {
    // Channel 4 is huge on vision tokens only; the caption tokens do not care about it.
    const opts = { seed: 21, t: 64, k: 16, ns: [12], outlier: 4, outlierGain: 40, outlierOn: (p: number) => p < 32 };
    const low = makeToy({ ...opts, ratio: 0.01 });
    const r = await searchGroupScale(low.group, low.weighting, { ...base, method: 'mbq' });
    const sx = meanAbs(low.x, low.t, low.k);
    const refCurve = alphaGrid(20).map((a) => referenceLoss(low, alphaScalesRef(sx, a), { ...base, method: 'mbq' }));
    expect(Math.round(r.alpha * 20)).toBe(refCurve.indexOf(Math.min(...refCurve)));
    // AWQ weighs every token alike, so the vision outlier pulls it to a larger alpha.
    const awq = await searchGroupScale(low.group, low.weighting, { ...base, method: 'awq' });
    expect(awq.alpha).toBeGreaterThan(r.alpha);
    low.dispose();
  });

  it('smoothquant uses alpha 0.5 and s = max|X|^a / max|W|^(1-a), by hand', async () => {
    const x = tf.tensor2d([1, -4, -2, 1, 0.5, 2], [3, 2]);
    const w1 = tf.tensor2d([0.5, -1, 2, 0.25], [2, 2]);
    const w2 = tf.tensor2d([-3, 0.5], [1, 2]);
    // max|X| = [2, 4]; max|W| over both weights = [3, 1] -> s = [sqrt(2/3), 2].
    const s = await smoothQuantScales(x, [w1, w2], 0.5);
    expectClose(s[0], Math.sqrt(2 / 3), 1e-6);
    expectClose(s[1], 2, 1e-6);
    tf.dispose([x, w1, w2]);

    const toy = makeToy({ seed: 5, t: 32, k: 16, ns: [8, 8], ratio: 0.5, outlier: 1 });
    const config: QuantConfig = { ...base, method: 'smoothquant', wBits: 4, aBits: 8 };
    const r = await searchGroupScale(toy.group, toy.weighting, config);
    expect(r.alpha).toBe(0.5);
    expect(r.lossCurve).toEqual([]);
    const { ax, aw } = channelMaximaRef(toy);
    const expected = Array.from(ax, (a, c) => Math.sqrt(a) / Math.sqrt(aw[c]));
    Array.from(r.scales).forEach((v, i) => expectClose(v, expected[i], 1e-5));
    expectClose(r.lossAfter, referenceLoss(toy, expected, config), 1e-3);
    expectClose(r.lossBefore, referenceLoss(toy, new Float64Array(16).fill(1), config), 1e-3);
    toy.dispose();
  });

  it('W4A8 mbq: W per-channel symmetric of W*s, input divided by s and quantized per token', async () => {
    const toy = makeToy({ seed: 13, t: 40, k: 32, ns: [16], ratio: 0.3, outlier: 7, outlierGain: 30 });
    const config: QuantConfig = { ...base, method: 'mbq', wBits: 4, aBits: 8, groupSize: 128 };
    const r = await searchGroupScale(toy.group, toy.weighting, config);
    expect(toy.calls.length).toBe(20);
    // Every candidate asks the forward for 8-bit per-token activations after dividing by s.
    for (const call of toy.calls) {
      const o = call.get('lin0') as LinearOverride;
      expect(o.actBits).toBe(8);
      expect(o.inputScale?.shape).toEqual([32]);
    }
    const sx = meanAbs(toy.x, toy.t, toy.k);
    const refCurve = alphaGrid(20).map((a) => referenceLoss(toy, alphaScalesRef(sx, a), config));
    refCurve.forEach((v, i) => expectClose(r.lossCurve[i], v, 2e-3));
    expectClose(refCurve[Math.round(r.alpha * 20)], Math.min(...refCurve), 2e-3);
    expect(r.alpha).toBeGreaterThan(0);
    toy.dispose();
  });

  it('scaleFamily smoothquant: the MBQ grid runs over max|X|^a / max|W|^(1-a) and never loses to SmoothQuant alpha 0.5', async () => {
    const seed = (Date.now() % 100000) + 1; // fresh inputs each run
    console.log(`scaleFamily smoothquant test: toy seed ${seed}`);
    const toy = makeToy({ seed, t: 48, k: 32, ns: [16, 8], ratio: 0.3, outlier: 5, outlierGain: 40 });
    const config: QuantConfig = { ...base, method: 'mbq', wBits: 4, aBits: 8, groupSize: 128, scaleFamily: 'smoothquant' };
    const r = await searchGroupScale(toy.group, toy.weighting, config);
    expect(toy.calls.length).toBe(21); // s = 1, then the 20 grid points
    // Float64 reference of the family: per-channel maxima of X and of every scaled W.
    const { ax, aw } = channelMaximaRef(toy);
    const family = (a: number): number[] => Array.from(ax, (v, c) => Math.max(v, 1e-5) ** a / Math.max(aw[c], 1e-5) ** (1 - a));
    const refCurve = alphaGrid(20).map((a) => referenceLoss(toy, family(a), config));
    refCurve.forEach((v, i) => expectClose(r.lossCurve[i], v, 2e-3));
    Array.from(r.scales).forEach((v, i) => expectClose(v, family(r.alpha)[i], 1e-5));
    expectClose(r.lossBefore, referenceLoss(toy, new Float64Array(toy.k).fill(1), config), 2e-3);
    // alpha 0.5 is on the grid, so the search is at least as good as the SmoothQuant baseline's scale.
    const sq = await searchGroupScale(toy.group, toy.weighting, { ...config, method: 'smoothquant', scaleFamily: undefined });
    const sqUnderMbqLoss = referenceLoss(toy, Array.from(sq.scales), config);
    expect(r.lossAfter).toBeLessThanOrEqual(sqUnderMbqLoss * (1 + 2e-3));
    expect(r.modalityMse?.before).toEqual(sq.modalityMse?.before);
    // awq with aBits: the same W4A8 candidates under the uniform loss (the weighting ablation).
    const awqConfig: QuantConfig = { ...config, method: 'awq' };
    const awq = await searchGroupScale(toy.group, toy.weighting, awqConfig);
    expect(awq.lossKind).toBe('uniform-mse');
    alphaGrid(20).map((a) => referenceLoss(toy, family(a), awqConfig)).forEach((v, i) => expectClose(awq.lossCurve[i], v, 2e-3));
    toy.dispose();
  });

  it('releases every tensor it makes, for every method', async () => {
    const toy = makeToy({ seed: 17, t: 24, k: 16, ns: [8, 4], ratio: 0.4, outlier: 0 });
    const before = tf.memory().numTensors;
    for (const config of [
      { ...base, method: 'rtn' }, { ...base, method: 'awq' }, { ...base, method: 'mbq', loss: 'mse' },
      { ...base, method: 'mbq', wBits: 4, aBits: 8 }, { ...base, method: 'smoothquant', wBits: 4, aBits: 8 },
      { ...base, method: 'mbq', wBits: 4, aBits: 8, scaleFamily: 'smoothquant' }, { ...base, method: 'awq', scaleFamily: 'smoothquant' },
    ] as QuantConfig[]) {
      await searchGroupScale(toy.group, toy.weighting, config);
      expect(tf.memory().numTensors).toBe(before);
    }
    await expect(searchGroupScale(toy.group, toy.weighting, { ...base, groupSize: 5 })).rejects.toThrow(/group size 5 does not divide K = 16/);
    expect(tf.memory().numTensors).toBe(before);
    toy.dispose();
  });

  it('is deterministic: same inputs, byte-identical result', async () => {
    const a = makeToy({ seed: 29, t: 32, k: 16, ns: [8], ratio: 0.25, outlier: 3 });
    const b = makeToy({ seed: 29, t: 32, k: 16, ns: [8], ratio: 0.25, outlier: 3 });
    const ra = await searchGroupScale(a.group, a.weighting, base);
    const rb = await searchGroupScale(b.group, b.weighting, base);
    expect(Buffer.from(ra.scales.buffer)).toEqual(Buffer.from(rb.scales.buffer));
    expect(ra.lossCurve).toEqual(rb.lossCurve);
    a.dispose();
    b.dispose();
  });

  it('rejects inputs it cannot search, naming the group', async () => {
    const toy = makeToy({ seed: 31, t: 16, k: 16, ns: [8], ratio: 0.5, vision: () => false, caption: () => false });
    await expect(searchGroupScale(toy.group, toy.weighting, base)).rejects.toThrow(/searchGroupScale\(attn-in\): MBQ loss needs caption or vision positions/);
    await expect(searchGroupScale(toy.group, { ...toy.weighting, ratio: NaN }, base)).rejects.toThrow(/modality ratio/);
    const bad = { ...toy.group, weights: new Map([['lin0', tf.zeros([8, 12]) as tf.Tensor2D]]) };
    await expect(searchGroupScale(bad, toy.weighting, base)).rejects.toThrow(/weight of 'lin0' is \[8,12\]/);
    tf.dispose([...bad.weights.values()]);
    toy.dispose();
  });
});

// webgpu: lavapipe in CI (never skipped); reads are asynchronous there, which tfjs-webgpu requires in Node.
describe.each(['wasm', 'webgpu'] as const)('searchGroupScale on the %s backend', (backend) => {
  afterAll(async () => {
    await initBackend('cpu');
  });
  it('finds the same alpha and loss curve as the float64 reference', async () => {
    await initBackend(backend);
    expect(tf.getBackend()).toBe(backend);
    for (const config of [{ ...base, method: 'mbq' }, { ...base, method: 'mbq', wBits: 4, aBits: 8 }, { ...base, method: 'smoothquant', wBits: 4, aBits: 8 }] as QuantConfig[]) {
      const toy = makeToy({ seed: 41, t: 40, k: 24, ns: [12], ratio: 0.2, outlier: 2, outlierGain: 25 });
      const before = tf.memory().numTensors;
      const r = await searchGroupScale(toy.group, toy.weighting, config);
      expect(tf.memory().numTensors).toBe(before);
      if (config.method === 'smoothquant') {
        const { ax, aw } = channelMaximaRef(toy);
        Array.from(r.scales).forEach((v, c) => expectClose(v, Math.sqrt(ax[c]) / Math.sqrt(aw[c]), 1e-5));
        expectClose(r.lossAfter, referenceLoss(toy, Array.from(r.scales), config), 2e-3);
      } else {
        const sx = meanAbs(toy.x, toy.t, toy.k);
        const refCurve = alphaGrid(20).map((a) => referenceLoss(toy, alphaScalesRef(sx, a), config));
        refCurve.forEach((v, i) => expectClose(r.lossCurve[i], v, 2e-3));
        expectClose(refCurve[Math.round(r.alpha * 20)], Math.min(...refCurve), 2e-3);
      }
      toy.dispose();
    }
  });
});

describe('meanAbsPerChannel (s_x of docs/algorithm.md §4.3)', () => {
  it('is the float64 mean of |X| over tokens, bit-identical on cpu and wasm', async () => {
    expect(() => meanAbsPerChannel(new Float32Array(10), 4)).toThrow(/10 values are not rows of 4 channels/);
    // 3000 tokens, magnitudes over 6 decades: a float32 reduction is off in the last bits here.
    const rand = mulberry32(13);
    const rows = 3000, k = 48;
    const x = Float32Array.from({ length: rows * k }, (_, i) => (rand() - 0.4) * 10 ** ((i % k) % 7 - 3) * (1 + 1000 * Number(i % 977 === 0)));
    const expected = new Float64Array(k);
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += Math.abs(x[r * k + c]);
      expected[c] = s / rows;
    }
    const got: Record<string, Float64Array> = {};
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      const t = tf.tensor2d(x, [rows, k]);
      got[backend] = meanAbsPerChannel(await t.data(), k);
      t.dispose();
    }
    await initBackend('cpu');
    expect(Array.from(got.wasm!)).toEqual(Array.from(got.cpu!));
    for (let c = 0; c < k; c++) expect(Math.abs(got.cpu![c]! - expected[c]!)).toBeLessThanOrEqual(1e-14 * expected[c]!);
  });
});
