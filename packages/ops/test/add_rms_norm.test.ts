/**
 * MbqAddRmsNorm (a residual add folded into the RMSNorm that reads it) on cpu, wasm and webgpu
 * (lavapipe in CI) against a float64 reference: fresh seed per run, odd shapes, webgpu outputs
 * poisoned (NaN-filled) before the kernel writes them, and its GPU dispatches counted (one on the
 * direct path, two through runWebGPUProgram), the two paths bit for bit. Also its graph-model op, both outputs read
 * by other nodes, with x and residual of one shape (the kernel) and broadcasting (the fallback).
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { addRmsNorm } from '@tfjs-mbq/ops';
import { setFusedWebGPUOptions } from '../src/kernels/webgpu/fused_options.js';
import { BACKENDS, countCalls, freshSeed, gpuProto, makeRng, maxAbs, randomData, TestBackend, useBackend } from './ops_test_util.js';

const seed = freshSeed();
const rng = makeRng(seed);

/** [y, sum] in float64; the sum is float32's (the add both paths round), the norm over it exact. */
function reference(x: Float32Array, r: Float32Array, g: Float32Array, C: number, eps: number): { y: Float64Array; sum: Float64Array } {
  const sum = Float64Array.from(x, (v, i) => Math.fround(v + r[i]!));
  const y = new Float64Array(x.length);
  for (let row = 0; row < x.length / C; row++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += sum[row * C + c]! ** 2;
    const inv = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) y[row * C + c] = sum[row * C + c]! * inv * g[c]!;
  }
  return { y, sum };
}

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

// float32 kernel vs float64: sums of up to a few hundred squares of O(1) values.
const TOL = 2e-5;

type Dispatch = 'direct' | 'program' | '';
/** Every backend; webgpu on both dispatch paths (recorded directly, or backend.runWebGPUProgram). */
const CASES: Array<[TestBackend, Dispatch]> = BACKENDS.flatMap((b): Array<[TestBackend, Dispatch]> =>
  b === 'webgpu' ? [[b, 'direct'], [b, 'program']] : [[b, '']]);

describe.each(CASES)(`addRmsNorm on %s %s (seed ${seed})`, (backend, path) => {
  beforeAll(async () => {
    await useBackend(backend);
    setFusedWebGPUOptions({ poisonOutput: true, dispatch: path === '' ? undefined : path });
  });
  afterAll(() => setFusedWebGPUOptions({}));

  // Rows of C = 1, 3, 129, 4097: fewer threads than the workgroup's 256, and one more than a multiple of it.
  it.each([[[3, 5, 37]], [[1, 1, 128]], [[2, 300]], [[7]], [[1, 3, 513]], [[5, 1]], [[2, 2, 3]], [[6, 129]], [[3, 4097]]])('%j', async (shape) => {
    const C = shape[shape.length - 1]!;
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomData(rng, n, 2), r = randomData(rng, n, 3), g = randomData(rng, C);
    const eps = 1e-6 * (1 + rng.uniform());
    const [xt, rt, gt] = [tf.tensor(x, shape), tf.tensor(r, shape), tf.tensor1d(g)];
    const before = tf.memory().numTensors;
    // On webgpu, the path taken: runWebGPUProgram twice (the sum, the rows) or never; and the dispatches it records.
    const { counts, restore } = path === '' ? { counts: { runs: 0, dispatches: 0 }, restore: () => undefined }
      : countCalls([[Object.getPrototypeOf(tf.backend()) as Record<string, unknown>, 'runWebGPUProgram', 'runs'],
        [gpuProto('GPUComputePassEncoder'), 'dispatchWorkgroups', 'dispatches']]);
    let outs: tf.Tensor[];
    try {
      outs = addRmsNorm(xt, rt, gt, eps);
    } finally {
      restore();
    }
    expect(counts.runs).toBe(path === 'program' ? 2 : 0);
    expect(counts.dispatches).toBe({ direct: 1, program: 2, '': 0 }[path]);
    const [y, sum] = outs as [tf.Tensor, tf.Tensor];
    expect(y.shape).toEqual(shape);
    expect(sum.shape).toEqual(shape);
    const ref = reference(x, r, g, C, eps);
    // The sum is one float32 add per element on every backend: exact.
    expect(Array.from(await sum.data())).toEqual(Array.from(ref.sum));
    expect(relErr(await y.data(), ref.y)).toBeLessThan(TOL);
    tf.dispose([y, sum]);
    expect(tf.memory().numTensors).toBe(before); // the outputs were all it made
    tf.dispose([xt, rt, gt]);
  });
});

describe(`addRmsNorm on webgpu: the one-dispatch program vs the two programs of runWebGPUProgram (seed ${seed})`, () => {
  beforeAll(async () => { await useBackend('webgpu'); });
  afterEach(() => setFusedWebGPUOptions({}));

  // Shapes the cases above compiled both paths for (lavapipe compiles slowly).
  it.each([[[3, 5, 37]], [[6, 129]], [[3, 4097]]])('%j: the same bits', async (shape) => {
    const C = shape[shape.length - 1]!;
    const n = shape.reduce((a, b) => a * b, 1);
    const [xt, rt, gt] = [tf.tensor(randomData(rng, n, 2), shape), tf.tensor(randomData(rng, n, 3), shape), tf.tensor1d(randomData(rng, C))];
    const run = async (dispatch: 'direct' | 'program'): Promise<Float32Array[]> => {
      setFusedWebGPUOptions({ poisonOutput: true, dispatch });
      const outs = addRmsNorm(xt, rt, gt, 1e-6);
      const got = await Promise.all(outs.map(async (t) => Float32Array.from(await t.data())));
      tf.dispose(outs);
      return got;
    };
    expect(await run('direct')).toEqual(await run('program'));
    tf.dispose([xt, rt, gt]);
  });
});

/** A graph: s = MbqAddRmsNorm(x, r, gamma); out0 = s:0 · 2, out1 = s:1 + 1 (both outputs read downstream). */
function handler(xShape: number[], rShape: number[], C: number, gamma: Float32Array, eps: number): tf.io.IOHandler {
  const dims = (shape: number[]) => ({ dim: shape.map((s) => ({ size: String(s) })) });
  const F = { type: 'DT_FLOAT' };
  const scalar = (name: string) => ({ name, op: 'Const', attr: { dtype: F, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims([]) } } } });
  const modelTopology = {
    node: [
      { name: 'x', op: 'Placeholder', attr: { dtype: F, shape: { shape: dims(xShape) } } },
      { name: 'r', op: 'Placeholder', attr: { dtype: F, shape: { shape: dims(rShape) } } },
      { name: 'gamma', op: 'Const', attr: { dtype: F, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims([C]) } } } },
      scalar('two'), scalar('one'),
      { name: 'norm', op: 'MbqAddRmsNorm', input: ['x', 'r', 'gamma'], attr: { T: F, eps: { f: eps } } },
      { name: 'out0', op: 'Mul', input: ['norm', 'two'], attr: { T: F } },
      { name: 'out1', op: 'AddV2', input: ['norm:1', 'one'], attr: { T: F } },
    ],
    versions: { producer: 1 },
  };
  const weightSpecs = [{ name: 'gamma', shape: [C], dtype: 'float32' as const }, { name: 'two', shape: [], dtype: 'float32' as const }, { name: 'one', shape: [], dtype: 'float32' as const }];
  const data = new Float32Array([...gamma, 2, 1]);
  return { load: async () => ({ modelTopology, weightSpecs, weightData: data.buffer, format: 'graph-model', generatedBy: 'test', convertedBy: 'test' }) };
}

describe.each(BACKENDS)(`loadGraphModel with an MbqAddRmsNorm node on %s (seed ${seed})`, (backend) => {
  beforeAll(async () => { await useBackend(backend); });

  it.each([
    ['one shape (the fused kernel)', [2, 3, 19], [2, 3, 19]],
    ['residual broadcast along rows (Add then MbqRmsNorm)', [2, 3, 19], [1, 3, 19]],
  ])('%s', async (_, xShape, rShape) => {
    const C = 19;
    const g = randomData(rng, C);
    const eps = 1e-5;
    const model = await loadGraphModel(handler(xShape, rShape, C, g, eps));
    const x = randomData(rng, xShape.reduce((a, b) => a * b, 1)), r = randomData(rng, rShape.reduce((a, b) => a * b, 1));
    const rFull = Float32Array.from(x, (_v, i) => r[i % r.length]!);
    const ref = reference(x, rFull, g, C, eps);
    const before = tf.memory().numTensors;
    const xt = tf.tensor(x, xShape), rt = tf.tensor(r, rShape);
    const [o0, o1, raw] = model.execute({ x: xt, r: rt }, ['out0', 'out1', 'norm:1']) as tf.Tensor[];
    expect(relErr(await o0!.data(), ref.y.map((v) => 2 * v))).toBeLessThan(TOL);
    expect(relErr(await o1!.data(), ref.sum.map((v) => v + 1))).toBeLessThan(1e-6);
    expect(Array.from(await raw!.data())).toEqual(Array.from(ref.sum));
    tf.dispose([o0!, o1!, raw!, xt, rt]);
    expect(tf.memory().numTensors).toBe(before); // the graph's intermediates (both outputs) freed
    model.dispose();
  });
});

describe('addRmsNorm: bad input (one line naming the problem)', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  it('rejects mismatched shapes and eps', () => {
    expect(() => addRmsNorm(tf.zeros([2, 4]), tf.zeros([1, 4]), tf.zeros([4]), 1e-6)).toThrow(/Error in MbqAddRmsNorm: 'residual' must have the shape of 'x' \[2,4\], got \[1,4\]/);
    expect(() => addRmsNorm(tf.zeros([2, 4]), tf.zeros([2, 4]), tf.zeros([3]), 1e-6)).toThrow(/Error in MbqAddRmsNorm: 'gamma' must have shape \[4\]/);
    expect(() => addRmsNorm(tf.zeros([2, 4]), tf.zeros([2, 4]), tf.zeros([4]), NaN)).toThrow(/eps must be/);
    expect(() => addRmsNorm(tf.zeros([2, 4]), tf.zeros([2, 4], 'int32'), tf.zeros([4]), 1e-6)).toThrow(/'residual' must have dtype float32/);
  });
});
