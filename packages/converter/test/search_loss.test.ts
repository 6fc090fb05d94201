import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { modalityMse, modalityWeightedLoss, uniformLoss } from '../src/search/quantizers.js';
import { mulberry32, randn } from './search_reference.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('search losses (docs/algorithm.md §4.4)', () => {
  // D = O' - O per row: r0 vision, r1 neither (ignored by MBQ), r2 caption, r3 vision.
  const d = [1, -2, 0.5, 0, 3, 1, -1, -1];
  const rand = mulberry32(99);
  const refData = randn(rand, 8).map((v) => Math.round(v * 8) / 8); // exact in float32, so O' - O = D exactly
  const vision = [1, 0, 0, 1];
  const caption = [0, 0, 1, 0];

  function run(fn: (r: tf.Tensor2D, o: tf.Tensor2D, v: tf.Tensor1D, c: tf.Tensor1D) => tf.Scalar): number {
    return tf.tidy(() => {
      const r = tf.tensor2d(refData, [4, 2]);
      const o = tf.add(r, tf.tensor2d(d, [4, 2])) as tf.Tensor2D;
      return fn(r, o, tf.tensor1d(vision), tf.tensor1d(caption)).dataSync()[0];
    });
  }

  it('mae: (sum_cap |D| + r sum_vis |D|) / ((n_t + n_v) C)', () => {
    // caption |D| = 4, vision |D| = 3 + 2 = 5, r = 0.25: (4 + 1.25) / (3 * 2) = 0.875.
    expect(run((r, o, v, c) => modalityWeightedLoss(r, o, v, c, 0.25, 'mae'))).toBeCloseTo(0.875, 6);
  });

  it('mse: sum_cap D^2 / (n_t C) + r sum_vis D^2 / (n_v C)', () => {
    // caption D^2 = 10 / 2 = 5, vision D^2 = 5 + 2 = 7 / 4 = 1.75: 5 + 0.25 * 1.75 = 5.4375.
    expect(run((r, o, v, c) => modalityWeightedLoss(r, o, v, c, 0.25, 'mse'))).toBeCloseTo(5.4375, 5);
  });

  it('awq: mean D^2 over every position and channel', () => {
    // (1 + 4 + 0.25 + 0 + 9 + 1 + 1 + 1) / 8 = 2.15625.
    expect(run((r, o) => uniformLoss(r, o))).toBeCloseTo(2.15625, 6);
  });

  it('per-modality diagnostics: mean D^2 over vision positions and over caption positions', () => {
    // vision rows r0 (1, 4) and r3 (1, 1): (5 + 2) / (2 * 2) = 1.75; caption row r2 (9, 1): 10 / 2 = 5.
    const [v, c] = tf.tidy(() => {
      const r = tf.tensor2d(refData, [4, 2]);
      const o = tf.add(r, tf.tensor2d(d, [4, 2])) as tf.Tensor2D;
      return modalityMse(r, o, tf.tensor1d(vision), tf.tensor1d(caption)).arraySync();
    });
    expect(v).toBeCloseTo(1.75, 6);
    expect(c).toBeCloseTo(5, 6);
    // An empty set reports 0, not NaN.
    expect(tf.tidy(() => modalityMse(tf.ones([2, 2]) as tf.Tensor2D, tf.zeros([2, 2]) as tf.Tensor2D, tf.zeros([2]) as tf.Tensor1D, tf.ones([2]) as tf.Tensor1D).arraySync())).toEqual([0, 1]);
  });

  it('mse with every position caption and none vision equals the awq loss', () => {
    const r2 = mulberry32(5);
    const [t, c] = [37, 11];
    const [ref, out] = [randn(r2, t * c), randn(r2, t * c)];
    const [mbq, awq] = tf.tidy(() => {
      const r = tf.tensor2d(ref, [t, c]);
      const o = tf.tensor2d(out, [t, c]);
      const ones = tf.ones([t]) as tf.Tensor1D;
      const zeros = tf.zeros([t]) as tf.Tensor1D;
      return [modalityWeightedLoss(r, o, zeros, ones, 0.37, 'mse').dataSync()[0], uniformLoss(r, o).dataSync()[0]];
    });
    expect(Math.abs(mbq - awq)).toBeLessThan(1e-6 * awq);
  });
});
