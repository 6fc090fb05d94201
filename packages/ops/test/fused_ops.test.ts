/**
 * The fused decoder kernels (rmsNorm, siluGate, rope, attention) on cpu, wasm and webgpu
 * (lavapipe in CI) against float64 references, fresh seed per run, odd shapes; on webgpu through
 * both dispatch paths (recorded directly and backend.runWebGPUProgram, each checked to be the one
 * taken, one GPU dispatch each), outputs poisoned (NaN-filled) before the kernel writes them. Then the direct path's
 * own cases: identical to runWebGPUProgram, a dispatch over the per-dimension limit, the
 * fallback under tf.time, chaining with tfjs ops in one pass, a steady loop that makes nothing new.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attention, rmsNorm, rope, siluGate } from '@tfjs-mbq/ops';
import { setDirectCacheLimits } from '../src/kernels/webgpu/direct_dispatch.js';
import { setFusedWebGPUOptions } from '../src/kernels/webgpu/fused_options.js';
import { countCalls, freshSeed, gpuProto, makeRng, randomData, TestBackend, useBackend } from './ops_test_util.js';

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

/** max |got - ref| / max(1, max |ref|): the relative error the graph checks use; Infinity if any output is not finite. */
function relErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(got.length).toBe(ref.length);
  // Plain comparisons: Math calls cost about a microsecond each under jest, and this runs over 4M outputs.
  let e = 0, m = 0;
  for (let i = 0; i < ref.length; i++) {
    const g = got[i]!, r = ref[i]!;
    if (g !== g || g === Infinity || g === -Infinity) return Infinity;
    const d = g > r ? g - r : r - g;
    if (d > e) e = d;
    if (r > m) m = r;
    else if (-r > m) m = -r;
  }
  return e / Math.max(1, m);
}

const causal = (Sq: number, Sk: number): Float32Array => {
  const m = new Float32Array(Sq * Sk);
  for (let i = 0; i < Sq; i++) for (let j = 0; j < Sk; j++) if (j > Sk - Sq + i) m[i * Sk + j] = -1e9;
  return m;
};

// float32 kernels vs float64: sums of up to a few hundred terms of O(1) values.
const TOL = 2e-5;

function tiled(block: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += block.length) out.set(block.subarray(0, Math.min(block.length, n - i)), i);
  return out;
}

/** One call of a fused op on fresh random inputs: its float64 reference and expected output shape. */
interface OpCase { run: () => tf.Tensor; ref: Float64Array; shape: number[]; inputs: tf.Tensor[] }

function rmsNormCase(shape: number[]): OpCase {
  const C = shape[shape.length - 1]!;
  const x = randomData(rng, shape.reduce((a, b) => a * b, 1), 2);
  const g = randomData(rng, C);
  const eps = 1e-6 * (1 + rng.uniform());
  const inputs = [tf.tensor(x, shape), tf.tensor1d(g)];
  return { run: () => rmsNorm(inputs[0]!, inputs[1]!, eps), ref: refRmsNorm(x, g, C, eps), shape, inputs };
}

/** `period` > 0: a random block of that length repeated (millions of normals take tens of seconds under jest). */
function siluGateCase(shape: number[], period = 0): OpCase {
  const n = shape.reduce((a, b) => a * b, 1);
  const x = period > 0 ? tiled(randomData(rng, period, 3), n) : randomData(rng, n, 3);
  const I = shape[shape.length - 1]! / 2;
  const inputs = [tf.tensor(x, shape)];
  return { run: () => siluGate(inputs[0]!), ref: refSiluGate(x, I), shape: [...shape.slice(0, -1), I], inputs };
}

/** [B, S, n·d] with `heads` of the n heads rotated, cos/sin of shape [...lead, d]. */
function ropeCase(B: number, S: number, n: number, heads: number, d: number, lead: readonly number[]): OpCase {
  const L = n * d;
  const x = randomData(rng, B * S * L);
  const cosRows = lead.reduce((a, b) => a * b, 1);
  const ang = Array.from({ length: cosRows * d }, () => rng.uniform() * 6.3);
  const cos = Float32Array.from(ang, Math.cos), sin = Float32Array.from(ang, Math.sin);
  const inputs = [tf.tensor(x, [B, S, L]), tf.tensor(cos, [...lead, d]), tf.tensor(sin, [...lead, d])];
  return { run: () => rope(inputs[0]!, inputs[1]!, inputs[2]!, { headDim: d, heads }), ref: refRope(x, cos, sin, L, d, heads, cosRows), shape: [B, S, L], inputs };
}

/** Causal, end-aligned mask with some extra negative biases. */
function attentionCase(B: number, Sq: number, Sk: number, H: number, KV: number, d: number): OpCase {
  const q = randomData(rng, B * Sq * H * d), k = randomData(rng, B * Sk * KV * d), v = randomData(rng, B * Sk * KV * d);
  const mask = causal(Sq, Sk);
  for (let i = 0; i < mask.length; i++) if (mask[i] === 0 && rng.uniform() < 0.1) mask[i] = -3 * rng.uniform();
  const scale = 1 / Math.sqrt(d);
  const inputs = [tf.tensor(q, [B, Sq, H * d]), tf.tensor(k, [B, Sk, KV * d]), tf.tensor(v, [B, Sk, KV * d]), tf.tensor(mask, [Sq, Sk])];
  const run = (): tf.Tensor => attention(inputs[0]!, inputs[1]!, inputs[2]!, inputs[3]!, { heads: H, kvHeads: KV, headDim: d, scale });
  return { run, ref: refAttention(q, k, v, mask, B, Sq, Sk, H, KV, d, scale), shape: [B, Sq, H * d], inputs };
}

type Dispatch = 'direct' | 'program';
const CASES: ReadonlyArray<readonly [TestBackend, Dispatch | '']> = [['cpu', ''], ['wasm', ''], ['webgpu', 'direct'], ['webgpu', 'program']];

/** Runs `op` and, on webgpu, checks it took `path` (runWebGPUProgram once, or never) and dispatched once (issue 17 target 5). */
function onPath<T>(path: Dispatch | '', op: () => T): T {
  if (path === '') return op();
  const { counts, restore } = countCalls([[Object.getPrototypeOf(tf.backend()) as Record<string, unknown>, 'runWebGPUProgram', 'runs'],
    [gpuProto('GPUComputePassEncoder'), 'dispatchWorkgroups', 'dispatches']]);
  try {
    return op();
  } finally {
    restore();
    expect(counts).toEqual({ runs: path === 'program' ? 1 : 0, dispatches: 1 });
  }
}

/** Runs the case on `path`, checks shape and values against the reference, disposes everything. */
async function check(c: OpCase, path: Dispatch | ''): Promise<void> {
  const y = onPath(path, c.run);
  expect(y.shape).toEqual(c.shape);
  expect(relErr(await y.data(), c.ref)).toBeLessThan(TOL);
  [y, ...c.inputs].forEach((t) => t.dispose());
}

describe.each(CASES)(`fused decoder ops on %s %s (seed ${seed})`, (backend, path) => {
  beforeAll(async () => {
    await useBackend(backend);
    setFusedWebGPUOptions({ poisonOutput: true, dispatch: path === '' ? undefined : path });
  });
  afterAll(() => setFusedWebGPUOptions({}));

  // C = 1, 129, 4097: short rows and one past a multiple of the workgroup's 256 threads.
  it.each([[[3, 5, 37]], [[1, 1, 128]], [[2, 300]], [[7]], [[4, 1]], [[3, 129]], [[2, 4097]]])('rmsNorm %j', (shape) => check(rmsNormCase(shape), path));

  it.each([[[2, 3, 2 * 19]], [[1, 1, 2 * 256]], [[5, 2]]])('siluGate %j', (shape) => check(siluGateCase(shape), path));

  it.each([
    // [B, S, heads total, rotated heads, d, cos leading shape]
    [2, 5, 3, 3, 6, [5]],
    [1, 7, 5, 3, 10, [7]],
    [3, 1, 2, 1, 32, [1, 1]],
    [2, 4, 4, 4, 8, [2, 4]],
  ] as const)('rope B=%i S=%i n=%i heads=%i d=%i cos %j', (B, S, n, heads, d, lead) => check(ropeCase(B, S, n, heads, d, lead), path));

  it.each([
    // [B, Sq, Sk, H, KV, d]
    [1, 1, 1, 1, 1, 4],
    [1, 1, 70, 4, 2, 32],
    [2, 5, 5, 3, 1, 10],
    [1, 3, 130, 2, 2, 72],
    [1, 1, 9, 6, 3, 130],
  ] as const)('attention B=%i Sq=%i Sk=%i H=%i KV=%i d=%i (causal, end-aligned mask)',
    (B, Sq, Sk, H, KV, d) => check(attentionCase(B, Sq, Sk, H, KV, d), path));
});

describe(`fused decoder ops on webgpu: the direct path (seed ${seed})`, () => {
  beforeAll(async () => { await useBackend('webgpu'); });
  afterEach(() => setFusedWebGPUOptions({}));

  // Shapes whose pipelines (both paths) the cases above compiled: lavapipe compiles slowly.
  const cases = (): OpCase[] => [rmsNormCase([3, 5, 37]), siluGateCase([2, 3, 2 * 19]), ropeCase(1, 7, 5, 3, 10, [7]), attentionCase(1, 3, 130, 2, 2, 72)];

  it('gives the outputs of runWebGPUProgram, bit for bit', async () => {
    for (const c of cases()) {
      setFusedWebGPUOptions({ poisonOutput: true, dispatch: 'program' });
      const viaProgram = onPath('program', c.run);
      setFusedWebGPUOptions({ poisonOutput: true, dispatch: 'direct' });
      const direct = onPath('direct', c.run);
      expect(await direct.data()).toEqual(await viaProgram.data());
      expect(relErr(await direct.data(), c.ref)).toBeLessThan(TOL);
      [direct, viaProgram, ...c.inputs].forEach((t) => t.dispose());
    }
  });

  it('reshapes a flat dispatch over the per-dimension limit as tfjs does (siluGate, 2^22 outputs: 65536 workgroups)', async () => {
    setFusedWebGPUOptions({ poisonOutput: true });
    // A prime period: a write to the wrong index shows unless it is off by a multiple of it.
    await check(siluGateCase([1, 2 * 2 ** 22], 99991), 'direct');
  });

  it('takes runWebGPUProgram under tf.time (tfjs times each program in a pass of its own)', async () => {
    const c = rmsNormCase([3, 5, 37]);
    let y: tf.Tensor | undefined;
    await tf.time(() => { y = onPath('program', c.run); });
    expect(relErr(await y!.data(), c.ref)).toBeLessThan(TOL);
    [y!, ...c.inputs].forEach((t) => t.dispose());
  });

  it('shares the pass with tfjs ops (chained, no validation error)', async () => {
    const device = (tf.backend() as unknown as { device: { pushErrorScope(f: 'validation'): void; popErrorScope(): Promise<unknown> } }).device;
    const x = randomData(rng, 2 * 3 * 38), g = randomData(rng, 38);
    const [xt, gt] = [tf.tensor(x, [2, 3, 38]), tf.tensor1d(g)];
    device.pushErrorScope('validation');
    // rmsNorm's output is read by tf.add, whose output siluGate reads, all before one submit.
    const y = tf.tidy(() => siluGate(tf.add(rmsNorm(xt, gt, 1e-6), xt)));
    const got = await y.data();
    expect(await device.popErrorScope()).toBeNull();
    const h = refRmsNorm(x, g, 38, 1e-6).map((v, i) => v + x[i]!);
    expect(relErr(got, refSiluGate(Float32Array.from(h), 19))).toBeLessThan(TOL);
    [y, xt, gt].forEach((t) => t.dispose());
  });

  it('keeps giving the right outputs when its uniform and bind group caches start over', async () => {
    setDirectCacheLimits({ uniformBuffers: 2, bindGroups: 3 });
    const x = randomData(rng, 3 * 5 * 37, 2), g = randomData(rng, 37);
    const [xt, gt] = [tf.tensor(x, [3, 5, 37]), tf.tensor1d(g)];
    // Five eps values: five uniform buffers, more than the cache holds; each round starts it over.
    const eps = [1e-6, 2e-6, 3e-6, 4e-6, 5e-6];
    // Uniform buffers made (GPUBufferUsage.UNIFORM): ours only, as every call takes the direct path.
    const device = gpuProto('GPUDevice');
    const createBuffer = device.createBuffer as (d: { usage: number }) => unknown;
    let uniformBuffers = 0;
    device.createBuffer = function (this: unknown, d: { usage: number }): unknown {
      if (d.usage & 0x40) uniformBuffers++;
      return createBuffer.call(this, d);
    };
    try {
      for (let round = 0; round < 3; round++) {
        for (const e of eps) {
          const y = onPath('direct', () => rmsNorm(xt, gt, e));
          expect(relErr(await y.data(), refRmsNorm(x, g, 37, e))).toBeLessThan(TOL);
          y.dispose();
        }
      }
    } finally {
      device.createBuffer = createBuffer;
      setDirectCacheLimits({});
    }
    // Holding 2, the cache never has the next eps: 15 buffers (a cache that kept them all: 5).
    expect(uniformBuffers).toBe(15);
    [xt, gt].forEach((t) => t.dispose());
  });

  it('a steady loop of the four ops creates no bind group, writes no uniform and compiles nothing after its first steps', async () => {
    const cs = cases();
    const step = async (): Promise<Float32Array[]> => {
      const ys = cs.map((c) => c.run());
      const out = await Promise.all(ys.map(async (y) => Float32Array.from(await y.data())));
      ys.forEach((y) => y.dispose());
      return out;
    };
    const want = await step();
    await step();
    const { counts, restore } = countCalls([
      [gpuProto('GPUDevice'), 'createBindGroup', 'bindGroups'],
      [gpuProto('GPUQueue'), 'writeBuffer', 'writes'],
      [gpuProto('GPUDevice'), 'createComputePipeline', 'pipelines'],
      [Object.getPrototypeOf(tf.backend()) as Record<string, unknown>, 'runWebGPUProgram', 'programs'],
    ]);
    let got: Float32Array[][];
    try {
      got = [await step(), await step(), await step()];
    } finally {
      restore();
    }
    expect(counts).toEqual({ bindGroups: 0, writes: 0, pipelines: 0, programs: 0 });
    for (const g of got) expect(g).toEqual(want);
    cs.forEach((c) => c.inputs.forEach((t) => t.dispose()));
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
