/**
 * MbqRopeAppendKv (RoPE, the q/k/v split and the KV-cache append of a decoder attention in one
 * kernel) on cpu, wasm and webgpu (lavapipe in CI) against a float64 reference: fresh seed per
 * run, odd shapes, GQA, prefill (many tokens; no cache, an empty one, a non-empty one) and decode
 * (one token after a cache), webgpu outputs poisoned (NaN-filled) before the kernel writes them
 * and its GPU dispatches counted (one on the direct path, three through runWebGPUProgram), the
 * two paths bit for bit; equal to MbqRope + slices + concats (what it replaces) bit for bit.
 * Also its graph-model op with three inputs (as the converter writes it) and five (the step).
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { rope, ropeAppendKv } from '@tfjs-mbq/ops';
import { setFusedWebGPUOptions } from '../src/kernels/webgpu/fused_options.js';
import { BACKENDS, countCalls, freshSeed, gpuProto, makeRng, maxAbs, randomData, TestBackend, useBackend } from './ops_test_util.js';

const seed = freshSeed();
const rng = makeRng(seed);

// float32 rotation (two products and a sum) vs float64.
const TOL = 2e-5;

/** max |got - ref| / max(1, max |ref|); Infinity when anything is not finite (a poisoned element left). */
function relErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(got.length).toBe(ref.length);
  let e = 0;
  for (let i = 0; i < ref.length; i++) {
    if (!Number.isFinite(got[i]!)) return Infinity;
    e = Math.max(e, Math.abs(got[i]! - ref[i]!));
  }
  return e / Math.max(1, maxAbs(ref));
}

interface Case {
  B: number; S: number; P: number; H: number; KV: number; d: number;
  /** cos/sin shape without the last axis (its leading axes end qkv's rows: [S], [B, S], [1]...). */
  lead: number[];
  /** 'none': three inputs; 'given': kPast/vPast of P positions (P may be 0). */
  past: 'none' | 'given';
}

interface Data { x: Float32Array; cos: Float32Array; sin: Float32Array; kp: Float32Array; vp: Float32Array; cosRows: number }

function makeData(c: Case): Data {
  const C = (c.H + 2 * c.KV) * c.d;
  const cosRows = c.lead.reduce((a, b) => a * b, 1);
  const angle = Float32Array.from({ length: cosRows * c.d }, () => rng.uniform() * 6.3);
  return {
    x: randomData(rng, c.B * c.S * C, 2),
    cos: angle.map(Math.cos), sin: angle.map(Math.sin),
    kp: randomData(rng, c.B * c.P * c.KV * c.d), vp: randomData(rng, c.B * c.P * c.KV * c.d),
    cosRows,
  };
}

/** [q, k, v] in float64 from the float32 inputs. */
function reference(c: Case, a: Data): [Float64Array, Float64Array, Float64Array] {
  const { B, S, P, H, KV, d } = c;
  const C = (H + 2 * KV) * d, Q = H * d, K = KV * d, T = P + S, half = d / 2;
  const q = new Float64Array(B * S * Q), k = new Float64Array(B * T * K), v = new Float64Array(B * T * K);
  const rot = (x: number, col: number, r: number): number => {
    const j = col % d, cr = (r % a.cosRows) * d + j;
    const other = j < half ? -a.x[x + half]! : a.x[x - half]!;
    return a.x[x]! * a.cos[cr]! + other * a.sin[cr]!;
  };
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let col = 0; col < K; col++) {
        const o = (b * T + t) * K + col;
        if (t < P) { k[o] = a.kp[(b * P + t) * K + col]!; v[o] = a.vp[(b * P + t) * K + col]!; continue; }
        const r = b * S + t - P;
        k[o] = rot(r * C + Q + col, col, r);
        v[o] = a.x[r * C + Q + K + col]!;
      }
    }
    for (let s = 0; s < S; s++) {
      const r = b * S + s;
      for (let col = 0; col < Q; col++) q[r * Q + col] = rot(r * C + col, col, r);
    }
  }
  return [q, k, v];
}

function tensors(c: Case, a: Data): { qkv: tf.Tensor; cos: tf.Tensor; sin: tf.Tensor; past?: { k: tf.Tensor; v: tf.Tensor } } {
  const C = (c.H + 2 * c.KV) * c.d;
  return {
    qkv: tf.tensor(a.x, [c.B, c.S, C]), cos: tf.tensor(a.cos, [...c.lead, c.d]), sin: tf.tensor(a.sin, [...c.lead, c.d]),
    past: c.past === 'given' ? { k: tf.tensor(a.kp, [c.B, c.P, c.KV * c.d]), v: tf.tensor(a.vp, [c.B, c.P, c.KV * c.d]) } : undefined,
  };
}

const CASES: Array<[string, Case]> = [
  ['decode, GQA, cached 5', { B: 1, S: 1, P: 5, H: 4, KV: 2, d: 8, lead: [1], past: 'given' }],
  ['decode, MQA, B=3, cached 130, cos per batch row', { B: 3, S: 1, P: 130, H: 2, KV: 1, d: 66, lead: [3, 1], past: 'given' }],
  ['decode, 7B-like heads, cached 37', { B: 1, S: 1, P: 37, H: 8, KV: 8, d: 128, lead: [1], past: 'given' }],
  ['prefill, no cache', { B: 2, S: 3, P: 0, H: 3, KV: 3, d: 6, lead: [3], past: 'none' }],
  ['prefill, empty cache, GQA', { B: 2, S: 3, P: 0, H: 3, KV: 1, d: 6, lead: [3], past: 'given' }],
  ['prefill after a cache, GQA', { B: 1, S: 7, P: 4, H: 6, KV: 2, d: 10, lead: [7], past: 'given' }],
  ['prefill, head dim 2, 9 tokens', { B: 1, S: 9, P: 0, H: 5, KV: 5, d: 2, lead: [9], past: 'none' }],
];

type Dispatch = 'direct' | 'program' | '';
const PATHS: Array<[TestBackend, Dispatch]> = BACKENDS.flatMap((b): Array<[TestBackend, Dispatch]> =>
  b === 'webgpu' ? [[b, 'direct'], [b, 'program']] : [[b, '']]);

describe.each(PATHS)(`ropeAppendKv on %s %s (seed ${seed})`, (backend, path) => {
  beforeAll(async () => {
    await useBackend(backend);
    setFusedWebGPUOptions({ poisonOutput: true, dispatch: path === '' ? undefined : path });
  });
  afterAll(() => setFusedWebGPUOptions({}));

  it.each(CASES)('%s', async (_, c) => {
    const a = makeData(c);
    const t = tensors(c, a);
    const before = tf.memory().numTensors;
    const { counts, restore } = path === '' ? { counts: { runs: 0, dispatches: 0 }, restore: () => undefined }
      : countCalls([[Object.getPrototypeOf(tf.backend()) as Record<string, unknown>, 'runWebGPUProgram', 'runs'],
        [gpuProto('GPUComputePassEncoder'), 'dispatchWorkgroups', 'dispatches']]);
    let outs: tf.Tensor[];
    try {
      outs = ropeAppendKv(t.qkv, t.cos, t.sin, { heads: c.H, kvHeads: c.KV, headDim: c.d }, t.past);
    } finally {
      restore();
    }
    expect(counts.runs).toBe(path === 'program' ? 3 : 0);
    expect(counts.dispatches).toBe({ direct: 1, program: 3, '': 0 }[path]);
    const [q, k, v] = outs as [tf.Tensor, tf.Tensor, tf.Tensor];
    expect(q.shape).toEqual([c.B, c.S, c.H * c.d]);
    expect(k.shape).toEqual([c.B, c.P + c.S, c.KV * c.d]);
    expect(v.shape).toEqual([c.B, c.P + c.S, c.KV * c.d]);
    const [rq, rk, rv] = reference(c, a);
    expect(relErr(await q.data(), rq)).toBeLessThan(TOL);
    expect(relErr(await k.data(), rk)).toBeLessThan(TOL);
    // v: copies of float32 values, exact.
    expect(Array.from(await v.data())).toEqual(Array.from(rv));
    tf.dispose(outs);
    expect(tf.memory().numTensors).toBe(before); // the outputs were all it made
    tf.dispose([t.qkv, t.cos, t.sin, ...(t.past ? [t.past.k, t.past.v] : [])]);
  });

  it('equals MbqRope, the three slices and the two cache concats bit for bit', async () => {
    const c: Case = { B: 2, S: 3, P: 4, H: 4, KV: 2, d: 12, lead: [3], past: 'given' };
    const a = makeData(c);
    const t = tensors(c, a);
    const [Q, K] = [c.H * c.d, c.KV * c.d];
    const fused = ropeAppendKv(t.qkv, t.cos, t.sin, { heads: c.H, kvHeads: c.KV, headDim: c.d }, t.past);
    const roped = rope(t.qkv, t.cos, t.sin, { headDim: c.d, heads: c.H + c.KV });
    const plain = [
      tf.slice(roped, [0, 0, 0], [-1, -1, Q]),
      tf.concat([t.past!.k, tf.slice(roped, [0, 0, Q], [-1, -1, K])], 1),
      tf.concat([t.past!.v, tf.slice(roped, [0, 0, Q + K], [-1, -1, K])], 1),
    ];
    for (let i = 0; i < 3; i++) expect(Array.from(await fused[i]!.data())).toEqual(Array.from(await plain[i]!.data()));
    tf.dispose([...fused, ...plain, roped, t.qkv, t.cos, t.sin, t.past!.k, t.past!.v]);
  });
});

describe(`ropeAppendKv on webgpu: the one-dispatch program vs the three programs of runWebGPUProgram (seed ${seed})`, () => {
  beforeAll(async () => { await useBackend('webgpu'); });
  afterEach(() => setFusedWebGPUOptions({}));

  it.each([CASES[0]!, CASES[3]!, CASES[5]!])('%s: the same bits', async (_, c) => {
    const a = makeData(c);
    const t = tensors(c, a);
    const run = async (dispatch: 'direct' | 'program'): Promise<Float32Array[]> => {
      setFusedWebGPUOptions({ poisonOutput: true, dispatch });
      const outs = ropeAppendKv(t.qkv, t.cos, t.sin, { heads: c.H, kvHeads: c.KV, headDim: c.d }, t.past);
      const got = await Promise.all(outs.map(async (o) => Float32Array.from(await o.data())));
      tf.dispose(outs);
      return got;
    };
    expect(await run('direct')).toEqual(await run('program'));
    tf.dispose([t.qkv, t.cos, t.sin, ...(t.past ? [t.past.k, t.past.v] : [])]);
  });
});

/** A graph: n = MbqRopeAppendKv(qkv, cos, sin[, kp, vp]); qo = n:0 · 2, ko = n:1 · 2, vo = n:2 · 2. */
function handler(c: Case, a: Data): tf.io.IOHandler {
  const dims = (shape: number[]) => ({ dim: shape.map((s) => ({ size: String(s) })) });
  const F = { type: 'DT_FLOAT' };
  const C = (c.H + 2 * c.KV) * c.d, K = c.KV * c.d;
  const ph = (name: string, shape: number[]) => ({ name, op: 'Placeholder', attr: { dtype: F, shape: { shape: dims(shape) } } });
  const cst = (name: string, shape: number[]) => ({ name, op: 'Const', attr: { dtype: F, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims(shape) } } } });
  const given = c.past === 'given';
  const modelTopology = {
    node: [
      ph('qkv', [c.B, -1, C]), cst('cos', [...c.lead, c.d]), cst('sin', [...c.lead, c.d]), cst('two', []),
      ...(given ? [ph('kp', [c.B, -1, K]), ph('vp', [c.B, -1, K])] : []),
      {
        name: 'n', op: 'MbqRopeAppendKv', input: given ? ['qkv', 'cos', 'sin', 'kp', 'vp'] : ['qkv', 'cos', 'sin'],
        attr: { T: F, heads: { i: String(c.H) }, kv_heads: { i: String(c.KV) }, head_dim: { i: String(c.d) } },
      },
      { name: 'qo', op: 'Mul', input: ['n', 'two'], attr: { T: F } },
      { name: 'ko', op: 'Mul', input: ['n:1', 'two'], attr: { T: F } },
      { name: 'vo', op: 'Mul', input: ['n:2', 'two'], attr: { T: F } },
    ],
    versions: { producer: 1 },
  };
  const weightSpecs = [
    { name: 'cos', shape: [...c.lead, c.d], dtype: 'float32' as const }, { name: 'sin', shape: [...c.lead, c.d], dtype: 'float32' as const },
    { name: 'two', shape: [], dtype: 'float32' as const },
  ];
  const data = new Float32Array([...a.cos, ...a.sin, 2]);
  return { load: async () => ({ modelTopology, weightSpecs, weightData: data.buffer, format: 'graph-model', generatedBy: 'test', convertedBy: 'test' }) };
}

describe.each(BACKENDS)(`loadGraphModel with an MbqRopeAppendKv node on %s (seed ${seed})`, (backend) => {
  beforeAll(async () => { await useBackend(backend); });

  it.each([CASES[3]!, CASES[0]!])('%s', async (_, c) => {
    const a = makeData(c);
    const model = await loadGraphModel(handler(c, a));
    const t = tensors(c, a);
    const feeds: tf.NamedTensorMap = { qkv: t.qkv, ...(t.past ? { kp: t.past.k, vp: t.past.v } : {}) };
    const before = tf.memory().numTensors;
    const outs = model.execute(feeds, ['qo', 'ko', 'vo']) as tf.Tensor[];
    const ref = reference(c, a);
    for (let i = 0; i < 3; i++) expect(relErr(await outs[i]!.data(), ref[i]!.map((x) => 2 * x))).toBeLessThan(TOL);
    tf.dispose(outs);
    expect(tf.memory().numTensors).toBe(before); // the node's three outputs freed
    tf.dispose([t.qkv, t.cos, t.sin, ...(t.past ? [t.past.k, t.past.v] : [])]);
    model.dispose();
  });
});

describe('ropeAppendKv: bad input (one line naming the problem)', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  it('rejects mismatched shapes and attrs', () => {
    const o = { heads: 2, kvHeads: 1, headDim: 4 };
    expect(() => ropeAppendKv(tf.zeros([1, 2, 15]), tf.zeros([2, 4]), tf.zeros([2, 4]), o)).toThrow(/Error in MbqRopeAppendKv: 'qkv' must have shape \[B, S, 16\]/);
    expect(() => ropeAppendKv(tf.zeros([1, 2, 16]), tf.zeros([3, 4]), tf.zeros([3, 4]), o)).toThrow(/Error in MbqRopeAppendKv: 'cos' \[3,4\] does not broadcast/);
    expect(() => ropeAppendKv(tf.zeros([1, 2, 16]), tf.zeros([2, 4]), tf.zeros([2, 4]), o, { k: tf.zeros([1, 3, 8]), v: tf.zeros([1, 3, 4]) })).toThrow(/'kPast' must have shape \[1, P, 4\]/);
    expect(() => ropeAppendKv(tf.zeros([1, 2, 16]), tf.zeros([2, 4]), tf.zeros([2, 4]), o, { k: tf.zeros([1, 3, 4]), v: tf.zeros([1, 2, 4]) })).toThrow(/'vPast' must have the shape of 'kPast'/);
    expect(() => ropeAppendKv(tf.zeros([1, 0, 16]), tf.zeros([1, 4]), tf.zeros([1, 4]), o)).toThrow(/at least one new position/);
    expect(() => ropeAppendKv(tf.zeros([1, 2, 20]), tf.zeros([2, 5]), tf.zeros([2, 5]), { ...o, headDim: 5 })).toThrow(/headDim must be a positive even/);
    expect(() => ropeAppendKv(tf.zeros([1, 2, 16], 'int32'), tf.zeros([2, 4]), tf.zeros([2, 4]), o)).toThrow(/'qkv' must have dtype float32/);
  });
});
