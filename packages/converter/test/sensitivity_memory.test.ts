/**
 * Issue 12 §4: the MBQ sensitivity chunk's peaks bounded independently of its samples: the caption
 * loss's gradient taken a few samples per step (never the whole [B·S, vocab] logits), the block
 * boundaries in a scratch file above a size; neither changes a result (bit for bit).
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { headGradient } from '../src/sensitivity/head_gradient.js';
import { summedCaptionLoss } from '../src/sensitivity/cross_entropy.js';
import { ensureGradients } from '../src/sensitivity/gradients.js';
import { FloatStore } from '../src/io/float_store.js';
import { DEFAULT_MEMORY_LIMITS, headSamplesPerStep } from '../src/memory_limits.js';
import { resolveOptions } from '../src/options.js';
import { observeCleanup } from '../src/io/cleanup_observer.js';
import { mulberry32, randn } from './search_reference.js';
import { writeSyntheticModel } from './helpers/synthetic.js';
import { compareOnModel } from './helpers/stream_check.js';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');

beforeAll(async () => { await initBackend('cpu'); ensureGradients(); });

/** B samples of S tokens, captions at random places (never position 0), targets in [0, V). */
function randomSamples(B: number, S: number, V: number, rng: () => number): { inputIds: Int32Array; captionMask: Float32Array }[] {
  return Array.from({ length: B }, (_, b) => {
    const len = S - (b % 3); // right padding, as a batch has
    const inputIds = new Int32Array(len).map(() => Math.floor(rng() * V));
    const captionMask = new Float32Array(len).map((_, p) => (p > 0 && (rng() < 0.5 || p === len - 1) ? 1 : 0));
    return { inputIds, captionMask };
  });
}

/** dLoss/dh in float64 on the host: per sample, (softmax(h W) - onehot / count) W^T at each caption row's predictor. */
function referenceGradient(h: Float32Array, w: Float32Array, B: number, S: number, C: number, V: number, samples: ReturnType<typeof randomSamples>): Float64Array {
  const g = new Float64Array(B * S * C);
  samples.forEach((s, b) => {
    let count = 0;
    for (let p = 1; p < s.inputIds.length; p++) if (s.captionMask[p]) count++;
    for (let p = 1; p < s.inputIds.length; p++) {
      if (!s.captionMask[p]) continue;
      const row = (b * S + p - 1) * C;
      const logits = new Float64Array(V);
      for (let v = 0; v < V; v++) { let a = 0; for (let c = 0; c < C; c++) a += h[row + c] * w[c * V + v]; logits[v] = a; }
      const max = Math.max(...logits);
      let z = 0; for (let v = 0; v < V; v++) z += Math.exp(logits[v] - max);
      for (let v = 0; v < V; v++) {
        const d = (Math.exp(logits[v] - max) / z - (v === s.inputIds[p] ? 1 : 0)) / count;
        for (let c = 0; c < C; c++) g[row + c] += d * w[c * V + v];
      }
    }
  });
  return g;
}

describe('the loss step, a few samples at a time', () => {
  const B = 6; const S = 9; const C = 8; const V = 500;
  const rng = mulberry32(12);
  const h = randn(rng, B * S * C);
  const w = randn(rng, C * V).map((x) => x * 0.5);
  const samples = randomSamples(B, S, V, rng);
  const head = (wt: tf.Tensor2D) => (x: tf.Tensor): tf.Tensor => tf.reshape(tf.matMul(tf.reshape(x, [-1, C]), wt), [x.shape[0], S, V]);

  test('equals the one-step gradient bit for bit and a float64 reference to float32 rounding; holds one step of logits, not B·S·V', async () => {
    const wt = tf.tensor2d(w, [C, V]);
    const hooks = { notFinite: () => new Error('not finite') };
    let whole: Float32Array = new Float32Array(0);
    // Bytes held after each kernel (read at once: tf.profile hands back one object that the next call reuses).
    const peak = (p: Awaited<ReturnType<typeof tf.profile>>): number => Math.max(...p.kernels.map((k) => k.totalBytesSnapshot));
    const oneStep = peak(await tf.profile(async () => {
      const x = tf.tensor(h, [B, S, C]);
      const g = tf.grad((xi: tf.Tensor) => summedCaptionLoss(head(wt)(xi), samples, S))(x);
      whole = await g.data() as Float32Array;
      tf.dispose([x, g]);
    }));
    let chunked: Float32Array = new Float32Array(0);
    const stepped = peak(await tf.profile(async () => {
      const g = await headGradient(head(wt), h, [B, S, C], samples, S * V * 4 * 2, hooks); // 1 sample, then 2 per step
      chunked = await g.data() as Float32Array;
      g.dispose();
    }));
    wt.dispose();
    expect(Array.from(chunked)).toEqual(Array.from(whole));
    const ref = referenceGradient(h, w, B, S, C, V, samples);
    const scale = ref.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    expect(scale).toBeGreaterThan(0);
    ref.forEach((v, i) => expect(Math.abs(chunked[i] - v)).toBeLessThanOrEqual(1e-5 * scale));
    // A step's tape holds ~15 arrays the size of its logits [n·S, V] (log-softmax, targets, their
    // gradients): steps of at most 2 of the 6 samples hold about a third of the one-step peak (0.35).
    const logitsBytes = B * S * V * 4;
    expect(oneStep).toBeGreaterThan(10 * logitsBytes);
    expect(stepped).toBeLessThan(oneStep / 2);
    expect(tf.memory().numTensors).toBe(0);
  });

  test('samples per step: as many whole samples as fit in the budget, at least one', () => {
    expect(headSamplesPerStep(650, 32064, 256 * 1024 * 1024)).toBe(3);
    expect(headSamplesPerStep(650, 32064, 0)).toBe(1);
    expect(headSamplesPerStep(10, 100, 4000 * 7 + 3)).toBe(7);
  });

  test('a loss that is not finite: the hook\'s error, nothing left on the device', async () => {
    const wt = tf.tensor2d(w.map((x, i) => (i === 3 ? NaN : x)), [C, V]);
    await expect(headGradient(head(wt), h, [B, S, C], samples, 0, { notFinite: () => new Error('loss not finite') })).rejects.toThrow('loss not finite');
    wt.dispose();
    expect(tf.memory().numTensors).toBe(0);
  });
});

describe('FloatStore (block boundaries, float logits)', () => {
  const arrays = Array.from({ length: 4 }, (_, i) => randn(mulberry32(i + 1), 37 - i));

  test('in memory: the arrays themselves, no file', () => {
    const s = new FloatStore('test array');
    arrays.forEach((a) => s.push(a));
    expect(s.spillPath).toBeUndefined();
    expect(s.get(2)).toBe(arrays[2]);
    s.dispose();
  });

  test('in a scratch file: reads back byte for byte (arrays of different sizes, after pops and pushes), removed by dispose', () => {
    const staged: string[] = [];
    observeCleanup({ staged: (d) => staged.push(d), unstaged: (d) => staged.splice(staged.indexOf(d), 1), enterCommit: () => true, leaveCommit: () => undefined });
    try {
      const s = new FloatStore('test array');
      s.useScratchFile();
      arrays.forEach((a) => s.push(a));
      const file = s.spillPath!;
      expect(existsSync(file)).toBe(true);
      expect(staged).toHaveLength(1);
      arrays.forEach((a, i) => expect(Buffer.from(s.get(i).buffer).equals(Buffer.from(a.buffer))).toBe(true));
      s.pop(); s.pop();
      expect(s.length).toBe(2);
      expect(() => s.get(2)).toThrow(/test array\): no array 2 \(2 held\)/);
      s.push(arrays[3]);
      expect(Array.from(s.get(2))).toEqual(Array.from(arrays[3]));
      expect(Array.from(s.get(1))).toEqual(Array.from(arrays[1]));
      expect(() => new FloatStore('x').get(0)).toThrow(/no array 0/);
      s.dispose();
      expect(existsSync(file)).toBe(false);
      expect(staged).toHaveLength(0);
      s.dispose();
    } finally {
      observeCleanup(undefined);
    }
  });
});

describe('the streamed pass with both limits at their smallest', () => {
  let synthetic: string;
  beforeAll(async () => { synthetic = await writeSyntheticModel({ layers: 2, seed: 62, randomGammas: true }); });
  afterAll(() => rmSync(synthetic, { recursive: true, force: true }));

  test.each(['cpu', 'wasm'] as const)('on %s: one sample per loss step, boundaries on disk: the whole-model gradients bit for bit', async (backend) => {
    await initBackend(backend);
    const staged: string[] = [];
    observeCleanup({ staged: (d) => staged.push(d), unstaged: () => undefined, enterCommit: () => true, leaveCommit: () => undefined });
    try {
      const r = await compareOnModel(synthetic, CALIB, 3, 3, { ...DEFAULT_MEMORY_LIMITS, headLogitsBytes: 0, spillAboveBytes: 0 });
      expect(r.whole.some((v) => v > 0)).toBe(true);
      expect(Array.from(r.streamed)).toEqual(Array.from(r.whole));
      expect(r.tensorsLeft).toBe(0);
      expect(staged.filter((d) => d.includes('tfjs-mbq-scratch-'))).toHaveLength(1);
      expect(staged.some((d) => existsSync(d))).toBe(false);
    } finally {
      observeCleanup(undefined);
    }
  }, 300_000);
});

test('option memoryLimits: a bad value is refused naming it; missing fields take the defaults', () => {
  const base = { modelDir: 'm', calibDir: 'c', outDir: 'o' };
  expect(() => resolveOptions({ ...base, memoryLimits: { headLogitsBytes: -1 } })).toThrow(/memoryLimits\.headLogitsBytes must be a non-negative integer \(bytes\), got -1/);
  expect(() => resolveOptions({ ...base, memoryLimits: { spillAboveBytes: 0.5 } })).toThrow(/memoryLimits\.spillAboveBytes/);
  expect(() => resolveOptions({ ...base, memoryLimits: { logitsPassBytes: NaN } })).toThrow(/memoryLimits\.logitsPassBytes/);
  expect(resolveOptions({ ...base, memoryLimits: { spillAboveBytes: 0 } }).memoryLimits).toEqual({ ...DEFAULT_MEMORY_LIMITS, spillAboveBytes: 0 });
});
