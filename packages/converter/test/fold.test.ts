import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '@tfjs-mbq/ops';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { GraphExecutor, loadModelDir, analyseGraph } from '@tfjs-mbq/converter';
import { applyGroupScale, cloneGraph } from '../src/graph/fold.js';
import { writeSyntheticModel } from './helpers/synthetic.js';

beforeAll(async () => { await initBackend('cpu'); });

const rng = mulberry32;

function inputs(seed: number, vocab: number, image: number) {
  const r = rng(seed);
  const ids = Int32Array.from({ length: 2 * 24 }, () => 5 + Math.floor(r() * (vocab - 5)));
  return { input_ids: tf.tensor2d(ids, [2, 24], 'int32'), pixel_values: tf.tensor4d(Float32Array.from({ length: 2 * image * image * 3 }, r), [2, image, image, 3]) };
}

async function foldEverything(kvHeads: number, forceInsert: boolean): Promise<{ rel: number; kinds: string[] }> {
  const dir = await writeSyntheticModel({ layers: 2, seed: 21 + kvHeads, kvHeads });
  const model = await loadModelDir(dir);
  const analysis = analyseGraph(model.modelJson.modelTopology, model.weights);
  const feeds = inputs(5, 40, model.mbq.imageSize[0]);
  const before = new GraphExecutor(model.modelJson.modelTopology, model.weights).execute(feeds, ['logits'])[0];
  const state = { graph: cloneGraph(model.modelJson.modelTopology), weights: new Map(model.weights) };
  const r = rng(99);
  const kinds: string[] = [];
  for (const block of analysis.blocks) {
    for (const group of block.groups) {
      if (forceInsert) group.fold = { kind: 'insert', tensor: group.input };
      kinds.push(group.fold.kind);
      const K = analysis.linears.get(group.linears[0])!.K;
      // Scales over two orders of magnitude, as alpha near 1 produces.
      const s = Float32Array.from({ length: K }, () => Math.exp((r() - 0.5) * 4));
      applyGroupScale(state, analysis, group, s);
    }
  }
  const after = new GraphExecutor(state.graph, state.weights).execute(feeds, ['logits'])[0];
  const diff = tf.max(tf.abs(tf.sub(after, before))).dataSync()[0];
  const scale = tf.max(tf.abs(before)).dataSync()[0];
  // The input model is untouched.
  const again = new GraphExecutor(model.modelJson.modelTopology, model.weights).execute(feeds, ['logits'])[0];
  expect(tf.max(tf.abs(tf.sub(again, before))).dataSync()[0]).toBe(0);
  return { rel: diff / scale, kinds };
}

test('folding scales into norm gammas and producing linears (v->o, up->down) leaves the float output unchanged', async () => {
  const { rel, kinds } = await foldEverything(2, false);
  expect(kinds).toEqual(['gamma', 'linear', 'gamma', 'linear', 'gamma', 'linear', 'gamma', 'linear']);
  expect(rel).toBeLessThan(1e-5);
});

test('folding through inserted Mul-by-scale nodes leaves the float output unchanged', async () => {
  const { rel, kinds } = await foldEverything(1, true);
  expect(new Set(kinds)).toEqual(new Set(['insert']));
  expect(rel).toBeLessThan(1e-5);
});
