import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { rotateLm } from '../src/rotate/index.js';
import type { DecoderLayerWeights, LmWeightView } from '../src/rotate/index.js';
import { mulberry32, randn } from './search_reference.js';

beforeAll(async () => {
  await initBackend('cpu');
});

interface Dims { d: number; f: number; heads: number; kvHeads: number; headDim: number; vocab: number; layers: number; visionIn: number; biases: boolean }

function randomView(dims: Dims, seed: number): LmWeightView {
  const rand = mulberry32(seed);
  const m = (r: number, c: number, scale = 1 / Math.sqrt(r)): tf.Tensor2D =>
    tf.tensor2d(randn(rand, r * c).map((v) => v * scale), [r, c]);
  // Gammas far from 1 so folding them matters; one big channel to mimic an outlier.
  const gamma = (): tf.Tensor1D => tf.tensor1d(randn(rand, dims.d).map((v, i) => 1 + 0.5 * v + (i === 3 ? 4 : 0)));
  const bias = (): tf.Tensor1D | undefined => (dims.biases ? tf.tensor1d(randn(rand, dims.d).map((v) => 0.1 * v)) : undefined);
  const { d, f, heads, kvHeads, headDim } = dims;
  const layers: DecoderLayerWeights[] = Array.from({ length: dims.layers }, () => ({
    inputNorm: gamma(), q: m(d, heads * headDim), k: m(d, kvHeads * headDim), v: m(d, kvHeads * headDim),
    o: m(heads * headDim, d), oBias: bias(), postNorm: gamma(), gate: m(d, f), up: m(d, f), down: m(f, d), downBias: bias(),
  }));
  return {
    embedTokens: m(dims.vocab, d, 1),
    visionOut: { weight: m(dims.visionIn, d), bias: tf.tensor1d(randn(rand, d).map((v) => 0.1 * v)) },
    layers, finalNorm: gamma(), lmHead: m(d, dims.vocab),
  };
}

function rmsNorm(x: tf.Tensor2D, gamma: tf.Tensor1D): tf.Tensor2D {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), 1, true), 1e-6))), gamma);
}

function rope(x: tf.Tensor2D, nHeads: number, headDim: number): tf.Tensor2D {
  const s = x.shape[0];
  const half = headDim / 2;
  const cos = new Float32Array(s * headDim), sin = new Float32Array(s * headDim);
  for (let p = 0; p < s; p++) {
    for (let i = 0; i < headDim; i++) {
      const a = p / Math.pow(10000, (2 * (i % half)) / headDim);
      cos[p * headDim + i] = Math.cos(a);
      sin[p * headDim + i] = Math.sin(a);
    }
  }
  const c = tf.tensor3d(cos, [s, 1, headDim]), sn = tf.tensor3d(sin, [s, 1, headDim]);
  const h = tf.reshape(x, [s, nHeads, headDim]);
  const [x1, x2] = tf.split(h, 2, 2);
  const rotated = tf.concat([tf.neg(x2), x1], 2);
  return tf.reshape(tf.add(tf.mul(h, c), tf.mul(rotated, sn)), [s, nHeads * headDim]);
}

function attention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, dims: Dims): tf.Tensor2D {
  const s = q.shape[0];
  const { heads, kvHeads, headDim } = dims;
  const qh = tf.transpose(tf.reshape(q, [s, heads, headDim]), [1, 0, 2]);
  const rep = (t: tf.Tensor2D): tf.Tensor3D => {
    const h = tf.transpose(tf.reshape(t, [s, kvHeads, headDim]), [1, 0, 2]);
    return tf.reshape(tf.tile(tf.expandDims(h, 1), [1, heads / kvHeads, 1, 1]), [heads, s, headDim]);
  };
  const scores = tf.div(tf.matMul(qh, rep(k), false, true), Math.sqrt(headDim));
  const mask = tf.linalg.bandPart(tf.ones([s, s]), -1, 0);
  const masked = tf.add(scores, tf.mul(tf.sub(1, mask), -1e9));
  const ctx = tf.matMul(tf.softmax(masked), rep(v));
  return tf.reshape(tf.transpose(ctx, [1, 0, 2]), [s, heads * headDim]);
}

/** A tiny LLaMA-style forward: BOS, image tokens from the projector, text; RMSNorm, RoPE, GQA, SwiGLU. */
function forward(view: LmWeightView, dims: Dims, ids: number[], vision: tf.Tensor2D, downIn: tf.Tensor2D | null): tf.Tensor2D {
  return tf.tidy(() => {
    const text = tf.gather(view.embedTokens, tf.tensor1d(ids, 'int32'));
    const vo = view.visionOut as { weight: tf.Tensor2D; bias: tf.Tensor1D };
    const img = tf.add(tf.matMul(vision, vo.weight), vo.bias);
    let h = tf.concat([tf.slice(text, [0, 0], [1, -1]), img, tf.slice(text, [1, 0], [-1, -1])], 0) as tf.Tensor2D;
    for (const l of view.layers) {
      const xn = rmsNorm(h, l.inputNorm);
      const ctx = attention(rope(tf.matMul(xn, l.q), dims.heads, dims.headDim), rope(tf.matMul(xn, l.k), dims.kvHeads, dims.headDim), tf.matMul(xn, l.v), dims);
      h = tf.add(h, tf.matMul(ctx, l.o));
      if (l.oBias) h = tf.add(h, l.oBias);
      const xn2 = rmsNorm(h, l.postNorm);
      let a = tf.mul(tf.mul(tf.matMul(xn2, l.gate), tf.sigmoid(tf.matMul(xn2, l.gate))), tf.matMul(xn2, l.up)) as tf.Tensor2D;
      if (downIn) a = tf.matMul(a, downIn);
      h = tf.add(h, tf.matMul(a, l.down));
      if (l.downBias) h = tf.add(h, l.downBias);
    }
    return tf.matMul(rmsNorm(h, view.finalNorm), view.lmHead);
  });
}

function allTensors(view: LmWeightView): tf.Tensor[] {
  const out: tf.Tensor[] = [view.embedTokens, view.finalNorm, view.lmHead];
  if (view.visionOut) out.push(view.visionOut.weight, ...(view.visionOut.bias ? [view.visionOut.bias] : []));
  for (const l of view.layers) {
    for (const t of Object.values(l)) if (t) out.push(t as tf.Tensor);
  }
  return out;
}

const cases: Array<[string, Dims]> = [
  ['D = 32, F = 48 (4·12), biases', { d: 32, f: 48, heads: 4, kvHeads: 2, headDim: 8, vocab: 37, layers: 2, visionIn: 20, biases: true }],
  ['D = 24 (2·12), F = 80 (4·20)', { d: 24, f: 80, heads: 4, kvHeads: 4, headDim: 6, vocab: 29, layers: 3, visionIn: 16, biases: false }],
];

describe('rotateLm (QuaRot-style, exact in float)', () => {
  for (const [name, dims] of cases) {
    it(`leaves the float logits unchanged within 1e-4 relative: ${name}`, () => {
      const view = randomView(dims, 1234 + dims.d);
      const rand = mulberry32(77);
      const vision = tf.tensor2d(randn(rand, 9 * dims.visionIn), [9, dims.visionIn]);
      const ids = [0, 5, 9, 2, 17, 3, 11];
      const snapshot = allTensors(view).map((t) => t.dataSync().slice());
      const before = tf.memory().numTensors;

      const rotated = rotateLm(view, { seed: 42 });
      const ref = forward(view, dims, ids, vision, null);
      const out = forward(rotated.weights, dims, ids, vision, rotated.downInputRotation);
      const refData = ref.dataSync();
      const outData = out.dataSync();
      let maxDiff = 0, maxRef = 0;
      for (let i = 0; i < refData.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(refData[i] - outData[i]));
        maxRef = Math.max(maxRef, Math.abs(refData[i]));
      }
      expect(maxRef).toBeGreaterThan(0.1);
      expect(maxDiff / maxRef).toBeLessThan(1e-4);

      // It really rotated: the embeddings and down_proj changed, gammas are ones, Q and H_F are orthonormal.
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(rotated.weights.embedTokens, view.embedTokens))).dataSync()[0])).toBeGreaterThan(0.05);
      for (const l of rotated.weights.layers) {
        expect(Array.from(l.inputNorm.dataSync())).toEqual(new Array(dims.d).fill(1));
        expect(Array.from(l.postNorm.dataSync())).toEqual(new Array(dims.d).fill(1));
      }
      expect(Array.from(rotated.weights.finalNorm.dataSync())).toEqual(new Array(dims.d).fill(1));
      for (const m of [rotated.residualRotation, rotated.downInputRotation as tf.Tensor2D]) {
        const err = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.matMul(m, m, false, true), tf.eye(m.shape[0])))).dataSync()[0]);
        expect(err).toBeLessThan(1e-5);
      }
      expect(rotated.residualHadamard.exact).toBe(true);
      expect(rotated.downHadamard?.size).toBe(dims.f);
      expect(rotated.downHadamard?.exact).toBe(true);

      // The input view is untouched, and everything returned is the caller's to dispose.
      allTensors(view).forEach((t, i) => expect(t.dataSync()).toEqual(snapshot[i]));
      tf.dispose([ref, out]);
      tf.dispose([...allTensors(rotated.weights), rotated.residualRotation, rotated.downInputRotation as tf.Tensor2D]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([...allTensors(view), vision]);
    });
  }

  it('is deterministic per seed, and the seed changes the signs', () => {
    const dims = cases[0][1];
    const view = randomView(dims, 5);
    const a = rotateLm(view, { seed: 1 });
    const b = rotateLm(view, { seed: 1 });
    const c = rotateLm(view, { seed: 2 });
    expect(Buffer.from(a.weights.lmHead.dataSync().buffer)).toEqual(Buffer.from(b.weights.lmHead.dataSync().buffer));
    expect(Buffer.from(a.residualRotation.dataSync().buffer)).not.toEqual(Buffer.from(c.residualRotation.dataSync().buffer));
    for (const r of [a, b, c]) tf.dispose([...allTensors(r.weights), r.residualRotation, r.downInputRotation as tf.Tensor2D]);
    tf.dispose(allTensors(view));
  });

  it('rejects mismatched shapes and a tied head, naming the tensor', () => {
    const dims = cases[1][1];
    const view = randomView(dims, 8);
    const badDown = tf.zeros([dims.f + 1, dims.d]) as tf.Tensor2D;
    const bad = { ...view, layers: [{ ...view.layers[0], down: badDown }] };
    expect(() => rotateLm(bad)).toThrow(/rotateLm: layers\[0\]\.gate has shape \[24,80\], expected \[24,81\]/);
    const tied = { ...view, lmHead: view.embedTokens };
    expect(() => rotateLm(tied)).toThrow(/rotateLm: lmHead has shape/);
    tf.dispose([badDown, ...allTensors(view)]);
  });
});
