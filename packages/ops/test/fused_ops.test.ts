/**
 * The fused decoder kernels (rmsNorm, siluGate, rope, attention) on cpu, wasm and webgpu
 * (lavapipe in CI) against float64 references, fresh seed per run, odd shapes; webgpu outputs
 * are poisoned (NaN-filled) before the kernel writes them. Also the graph-model ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attention, rmsNorm, rope, siluGate } from '@tfjs-mbq/ops';
import { setFusedWebGPUOptions } from '../src/kernels/webgpu/fused_options.js';
import { BACKENDS, freshSeed, makeRng, maxAbs, randomData, useBackend } from './ops_test_util.js';

const seed = freshSeed();
const rng = makeRng(seed);

function refRmsNorm(x: Float32Array, g: Float32Array, C: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / C; r++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[r * C + c]! ** 2;
    const inv = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) out[r * C + c] = x[r * C + c]! * inv * g[c]!;
  }
  return out;
}

function refSiluGate(x: Float32Array, I: number): Float64Array {
  const rows = x.length / (2 * I);
  const out = new Float64Array(rows * I);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < I; i++) {
      const g = x[r * 2 * I + i]!;
      out[r * I + i] = (g / (1 + Math.exp(-g))) * x[r * 2 * I + I + i]!;
    }
  }
  return out;
}

/** Per head: [x1, x2] -> [x1·cos - x2·sin, x2·cos + x1·sin] (written as the rotation, not rotate_half). */
function refRope(x: Float32Array, cos: Float32Array, sin: Float32Array, L: number, d: number, heads: number, cosRows: number): Float64Array {
  const out = Float64Array.from(x);
  const h2 = d / 2;
  for (let r = 0; r < x.length / L; r++) {
    const cr = (r % cosRows) * d;
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j < h2; j++) {
        const a = x[r * L + h * d + j]!, b = x[r * L + h * d + j + h2]!;
        out[r * L + h * d + j] = a * cos[cr + j]! - b * sin[cr + j]!;
        out[r * L + h * d + j + h2] = b * cos[cr + j + h2]! + a * sin[cr + j + h2]!;
      }
    }
  }
  return out;
}

function refAttention(q: Float32Array, k: Float32Array, v: Float32Array, mask: Float32Array, B: number, Sq: number, Sk: number, H: number, KV: number, d: number, scale: number): Float64Array {
  const out = new Float64Array(B * Sq * H * d);
  for (let b = 0; b < B; b++) for (let i = 0; i < Sq; i++) for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / KV));
    const s = Array.from({ length: Sk }, (_, j) => {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += q[((b * Sq + i) * H + h) * d + c]! * k[((b * Sk + j) * KV + g) * d + c]!;
      return dot * scale + mask[i * Sk + j]!;
    });
    const m = Math.max(...s);
    const e = s.map((z) => Math.exp(z - m));
    const sum = e.reduce((a, z) => a + z, 0);
    for (let c = 0; c < d; c++) {
      let acc = 0;
      for (let j = 0; j < Sk; j++) acc += (e[j]! / sum) * v[((b * Sk + j) * KV + g) * d + c]!;
      out[((b * Sq + i) * H + h) * d + c] = acc;
    }
  }
  return out;
}

/** max |got - ref| / max(1, max |ref|): the relative error the graph checks use. */
function relErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(got.length).toBe(ref.length);
  let e = 0;
  for (let i = 0; i < ref.length; i++) e = Math.max(e, Math.abs(got[i]! - ref[i]!));
  const err = e / Math.max(1, maxAbs(ref));
  if (Number.isNaN(e) || Array.prototype.some.call(got, (v: number) => !Number.isFinite(v))) return Infinity;
  return err;
}

const causal = (Sq: number, Sk: number): Float32Array => {
  const m = new Float32Array(Sq * Sk);
  for (let i = 0; i < Sq; i++) for (let j = 0; j < Sk; j++) if (j > Sk - Sq + i) m[i * Sk + j] = -1e9;
  return m;
};

// float32 kernels vs float64: sums of up to a few hundred terms of O(1) values.
const TOL = 2e-5;

describe.each(BACKENDS)(`fused decoder ops on %s (seed ${seed})`, (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
    setFusedWebGPUOptions({ poisonOutput: true });
  });
  afterAll(() => setFusedWebGPUOptions({}));

  it.each([[[3, 5, 37]], [[1, 1, 128]], [[2, 300]], [[7]]])('rmsNorm %j', async (shape) => {
    const C = shape[shape.length - 1]!;
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomData(rng, n, 2);
    const g = randomData(rng, C);
    const eps = 1e-6 * (1 + rng.uniform());
    const y = rmsNorm(tf.tensor(x, shape), tf.tensor1d(g), eps);
    expect(y.shape).toEqual(shape);
    expect(relErr(await y.data(), refRmsNorm(x, g, C, eps))).toBeLessThan(TOL);
    y.dispose();
  });

  it.each([[[2, 3, 2 * 19]], [[1, 1, 2 * 256]], [[5, 2]]])('siluGate %j', async (shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomData(rng, n, 3);
    const I = shape[shape.length - 1]! / 2;
    const y = siluGate(tf.tensor(x, shape));
    expect(y.shape).toEqual([...shape.slice(0, -1), I]);
    expect(relErr(await y.data(), refSiluGate(x, I))).toBeLessThan(TOL);
    y.dispose();
  });

  it.each([
    // [B, S, heads total, rotated heads, d, cos leading shape]
    [2, 5, 3, 3, 6, [5]],
    [1, 7, 5, 3, 10, [7]],
    [3, 1, 2, 1, 32, [1, 1]],
    [2, 4, 4, 4, 8, [2, 4]],
  ] as const)('rope B=%i S=%i n=%i heads=%i d=%i cos %j', async (B, S, n, heads, d, lead) => {
    const L = n * d;
    const x = randomData(rng, B * S * L);
    const cosRows = lead.reduce((a: number, b: number) => a * b, 1);
    const ang = Array.from({ length: cosRows * d }, () => rng.uniform() * 6.3);
    const cos = Float32Array.from(ang, Math.cos), sin = Float32Array.from(ang, Math.sin);
    const y = rope(tf.tensor(x, [B, S, L]), tf.tensor(cos, [...lead, d]), tf.tensor(sin, [...lead, d]), { headDim: d, heads });
    expect(relErr(await y.data(), refRope(x, cos, sin, L, d, heads, cosRows))).toBeLessThan(TOL);
    y.dispose();
  });

  it.each([
    // [B, Sq, Sk, H, KV, d]
    [1, 1, 1, 1, 1, 4],
    [1, 1, 70, 4, 2, 32],
    [2, 5, 5, 3, 1, 10],
    [1, 3, 130, 2, 2, 72],
    [1, 1, 9, 6, 3, 130],
  ] as const)('attention B=%i Sq=%i Sk=%i H=%i KV=%i d=%i (causal, end-aligned mask)', async (B, Sq, Sk, H, KV, d) => {
    const q = randomData(rng, B * Sq * H * d), k = randomData(rng, B * Sk * KV * d), v = randomData(rng, B * Sk * KV * d);
    const mask = causal(Sq, Sk);
    for (let i = 0; i < mask.length; i++) if (mask[i] === 0 && rng.uniform() < 0.1) mask[i] = -3 * rng.uniform();
    const scale = 1 / Math.sqrt(d);
    const y = attention(tf.tensor(q, [B, Sq, H * d]), tf.tensor(k, [B, Sk, KV * d]), tf.tensor(v, [B, Sk, KV * d]), tf.tensor(mask, [Sq, Sk]), { heads: H, kvHeads: KV, headDim: d, scale });
    expect(y.shape).toEqual([B, Sq, H * d]);
    expect(relErr(await y.data(), refAttention(q, k, v, mask, B, Sq, Sk, H, KV, d, scale))).toBeLessThan(TOL);
    y.dispose();
  });
});

describe('fused decoder ops: bad input (one line naming the problem)', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  it('rejects mismatched shapes and attrs', () => {
    expect(() => rmsNorm(tf.zeros([2, 4]), tf.zeros([3]), 1e-6)).toThrow(/gamma' must have shape \[4\]/);
    expect(() => rmsNorm(tf.zeros([2, 4]), tf.zeros([4]), -1)).toThrow(/eps must be/);
    expect(() => siluGate(tf.zeros([2, 3]))).toThrow(/even length/);
    expect(() => rope(tf.zeros([1, 2, 8]), tf.zeros([2, 3]), tf.zeros([2, 3]), { headDim: 3 })).toThrow(/headDim must be a positive even/);
    expect(() => rope(tf.zeros([1, 2, 8]), tf.zeros([3, 4]), tf.zeros([3, 4]), { headDim: 4 })).toThrow(/does not broadcast/);
    expect(() => attention(tf.zeros([1, 1, 8]), tf.zeros([1, 3, 8]), tf.zeros([1, 3, 8]), tf.zeros([1, 3]), { heads: 2, kvHeads: 3, headDim: 4 })).toThrow(/must divide heads/);
    expect(() => attention(tf.zeros([1, 1, 8]), tf.zeros([1, 3, 4]), tf.zeros([1, 3, 4]), tf.zeros([1, 2]), { heads: 2, kvHeads: 1, headDim: 4 })).toThrow(/'mask' must have shape/);
  });
});
