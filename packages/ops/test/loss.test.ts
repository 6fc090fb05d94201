import * as tf from '@tensorflow/tfjs-core';
import { mbqReconstructionLoss, uniformReconstructionLoss } from '@tfjs-mbq/ops';
import { BACKENDS, freshSeed, makeRng, randomData, useBackend } from './ops_test_util.js';

const seed = freshSeed();

/** docs/algorithm.md §4.4 in float64, written out term by term. */
function referenceLoss(ref: ArrayLike<number>, out: ArrayLike<number>, vis: ArrayLike<number>, cap: ArrayLike<number>, C: number, r: number, mode: 'mae' | 'mse' | 'uniform'): number {
  const T = ref.length / C;
  let sumCap = 0, sumVis = 0, sumAll = 0, nt = 0, nv = 0;
  for (let t = 0; t < T; t++) {
    if (cap[t]) nt++;
    if (vis[t]) nv++;
    for (let c = 0; c < C; c++) {
      const d = out[t * C + c] - ref[t * C + c];
      const e = mode === 'mae' ? Math.abs(d) : d * d;
      if (cap[t]) sumCap += e;
      if (vis[t]) sumVis += e;
      sumAll += d * d;
    }
  }
  if (mode === 'uniform') return sumAll / (T * C);
  if (mode === 'mae') return (sumCap + r * sumVis) / ((nt + nv) * C);
  return sumCap / (nt * C) + r * (sumVis / (nv * C));
}

const perBackend = new Map<string, number[]>();

describe.each(BACKENDS)(`reconstruction losses on %s (seed ${seed})`, (backend) => {
  beforeAll(async () => { await useBackend(backend); });

  it('hand-computed example (masks as bool [1, 3] and float [3])', async () => {
    // D rows: [1, -1], [2, 2], [3, 0]; vision = token 0, caption = tokens 1, 2; r = 0.5; C = 2.
    const reference = tf.zeros([1, 3, 2]);
    const output = tf.tensor3d([[[1, -1], [2, 2], [3, 0]]]);
    const vis = tf.tensor2d([[true, false, false]], [1, 3], 'bool');
    const cap = tf.tensor1d([0, 1, 1]);
    // mae: (|D| caption 4 + 3 = 7, + 0.5 * vision 2) / ((2 + 1) * 2) = 8 / 6.
    expect((await mbqReconstructionLoss(reference, output, vis, cap, 0.5, 'mae').data())[0]).toBeCloseTo(8 / 6, 6);
    // mse: caption (8 + 9) / (2 * 2) = 4.25, + 0.5 * vision 2 / (1 * 2) = 0.5.
    expect((await mbqReconstructionLoss(reference, output, vis, cap, 0.5, 'mse').data())[0]).toBeCloseTo(4.75, 6);
    // AWQ: (2 + 8 + 9) / 6.
    const u = uniformReconstructionLoss(reference, output);
    expect(u.shape).toEqual([]);
    expect((await u.data())[0]).toBeCloseTo(19 / 6, 6);
    // No vision tokens: the mse vision term is 0, not NaN; mae divides by n_t C.
    const none = tf.zeros([3], 'int32');
    expect((await mbqReconstructionLoss(reference, output, none, cap, 0.5, 'mse').data())[0]).toBeCloseTo(4.25, 6);
    expect((await mbqReconstructionLoss(reference, output, none, cap, 0.5, 'mae').data())[0]).toBeCloseTo(7 / 4, 6);
  });

  it('random inputs, odd sizes, both modes and AWQ: float64 reference within 1e-5 relative', async () => {
    const rng = makeRng(seed);
    const out: number[] = [];
    for (const shape of [[2, 7, 33], [45, 17], [1, 3, 5, 129]]) {
      const C = shape[shape.length - 1];
      const size = shape.reduce((a, b) => a * b, 1);
      const T = size / C;
      const ref = randomData(rng, size);
      const noisy = ref.map((v) => v + 0.1 * rng.normal());
      const vis = Float32Array.from({ length: T }, () => (rng.uniform() < 0.4 ? 1 : 0));
      const cap = Float32Array.from(vis, (v) => (v === 0 && rng.uniform() < 0.6 ? 1 : 0));
      vis[0] = 1; cap[T - 1] = 1; vis[T - 1] = 0;
      const ratio = 0.1 + rng.uniform();
      const tRef = tf.tensor(ref, shape), tOut = tf.tensor(noisy, shape);
      const tVis = tf.tensor(vis, shape.slice(0, -1), 'float32');
      const tCap = tf.tensor(Int32Array.from(cap), [T], 'int32');
      for (const mode of ['mae', 'mse'] as const) {
        const got = (await mbqReconstructionLoss(tRef, tOut, tVis, tCap, ratio, mode).data())[0];
        const want = referenceLoss(ref, noisy, vis, cap, C, ratio, mode);
        expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-5 * want);
        out.push(got);
      }
      const gotU = (await uniformReconstructionLoss(tRef, tOut).data())[0];
      const wantU = referenceLoss(ref, noisy, vis, cap, C, ratio, 'uniform');
      expect(Math.abs(gotU - wantU)).toBeLessThanOrEqual(1e-5 * wantU);
      out.push(gotU);
      tf.dispose([tRef, tOut, tVis, tCap]);
    }
    perBackend.set(backend, out);
  });

  it('the ratio weighs vision tokens: larger ratio, larger loss when vision error is nonzero', async () => {
    const rng = makeRng(seed + 1);
    const ref = tf.tensor(randomData(rng, 4 * 9), [4, 9]);
    const out = tf.add(ref, tf.tensor(randomData(rng, 4 * 9), [4, 9]));
    const vis = tf.tensor1d([1, 1, 0, 0]), cap = tf.tensor1d([0, 0, 1, 1]);
    const lo = (await mbqReconstructionLoss(ref, out, vis, cap, 0.2, 'mae').data())[0];
    const hi = (await mbqReconstructionLoss(ref, out, vis, cap, 2, 'mae').data())[0];
    expect(hi).toBeGreaterThan(lo);
  });
});

describe('loss backends agree', () => {
  it('cpu, wasm and webgpu within 1e-5 relative', () => {
    const cpu = perBackend.get('cpu')!;
    expect(cpu.length).toBe(9);
    for (const b of ['wasm', 'webgpu']) {
      const other = perBackend.get(b)!;
      cpu.forEach((v, i) => expect(Math.abs(other[i] - v)).toBeLessThanOrEqual(1e-5 * Math.abs(v)));
    }
  });
});
