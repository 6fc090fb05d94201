import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { GraphExecutor, loadModelDir, dirHandler, analyseGraph } from '@tfjs-mbq/converter';
import { writeSyntheticModel } from './helpers/synthetic.js';

beforeAll(async () => { await initBackend('cpu'); });

function randomInputs(seed: number, batch: number, seq: number, vocab: number, image: number) {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const ids = Int32Array.from({ length: batch * seq }, () => 5 + Math.floor(rnd() * (vocab - 5)));
  const px = Float32Array.from({ length: batch * image * image * 3 }, () => rnd());
  return { input_ids: tf.tensor2d(ids, [batch, seq], 'int32'), pixel_values: tf.tensor4d(px, [batch, image, image, 3]) };
}

test('executor matches tf.loadGraphModel on a synthetic VLM graph', async () => {
  const dir = await writeSyntheticModel({ layers: 2, seed: 3 });
  const model = await loadModelDir(dir);
  const exec = new GraphExecutor(model.modelJson.modelTopology, model.weights);
  const feeds = randomInputs(7, 2, 16 + 4 + 3, model.mbq.eosTokenId + 40, model.mbq.imageSize[0]);
  const [mine] = exec.execute(feeds, ['logits']);
  const gm = await loadGraphModel(dirHandler(dir));
  const ref = gm.execute(feeds, 'logits') as tf.Tensor;
  expect(mine.shape).toEqual(ref.shape);
  const a = mine.dataSync(); const b = ref.dataSync();
  let maxDiff = 0; let maxAbs = 0;
  for (let i = 0; i < a.length; i++) { maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i])); maxAbs = Math.max(maxAbs, Math.abs(b[i])); }
  expect(maxAbs).toBeGreaterThan(0.1);
  expect(maxDiff).toBeLessThan(1e-5 * Math.max(1, maxAbs));
  tf.dispose([mine, ref, feeds.input_ids, feeds.pixel_values]);
  exec.dispose();
  gm.dispose();
});

test('analysis finds the decoder blocks of the synthetic VLM (GQA: no v->o group)', async () => {
  const dir = await writeSyntheticModel({ layers: 3, seed: 4, kvHeads: 1 });
  const model = await loadModelDir(dir);
  const a = analyseGraph(model.modelJson.modelTopology, model.weights);
  expect(a.blocks).toHaveLength(3);
  const b1 = a.blocks[1];
  expect(b1.q).toBe('lm/layers.1/self_attn/q_proj/MatMul');
  expect(b1.k).toBe('lm/layers.1/self_attn/k_proj/MatMul');
  expect(b1.v).toBe('lm/layers.1/self_attn/v_proj/MatMul');
  expect(b1.o).toBe('lm/layers.1/self_attn/o_proj/MatMul');
  expect(b1.gate).toBe('lm/layers.1/mlp/gate_proj/MatMul');
  expect(b1.up).toBe('lm/layers.1/mlp/up_proj/MatMul');
  expect(b1.down).toBe('lm/layers.1/mlp/down_proj/MatMul');
  expect(b1.input).toBe('lm/layers.0/residual_mlp');
  expect(b1.output).toBe('lm/layers.1/residual_mlp');
  expect(b1.groups.map((g) => g.name)).toEqual(['attn-in', 'mlp-in', 'mlp-out']);
  expect(b1.groups[0].fold).toEqual({ kind: 'gamma', mulNode: 'lm/layers.1/input_layernorm/mul_gamma', gammaConst: 'lm/layers.1/input_layernorm/weight' });
  expect(b1.groups[2].fold).toEqual({ kind: 'linear', linear: 'lm/layers.1/mlp/up_proj/MatMul' });
  expect(a.otherLinears).toContain('lm/lm_head/MatMul');
  expect(a.otherLinears).toContain('vision/layers.0/self_attn/q_proj/MatMul');
});

test('analysis folds v into o when v and o have equal shapes', async () => {
  const dir = await writeSyntheticModel({ layers: 1, seed: 5, kvHeads: 2 });
  const model = await loadModelDir(dir);
  const a = analyseGraph(model.modelJson.modelTopology, model.weights);
  const g = a.blocks[0].groups.find((x) => x.name === 'attn-out');
  expect(g?.fold).toEqual({ kind: 'linear', linear: 'lm/layers.0/self_attn/v_proj/MatMul' });
  expect(a.blocks[0].sideInputs.length).toBeGreaterThan(0);
});

test('executor matches tf.loadGraphModel on the trained fixture', async () => {
  const dir = `${process.cwd()}/fixtures/tiny-vlm`;
  const model = await loadModelDir(dir);
  const exec = new GraphExecutor(model.modelJson.modelTopology, model.weights);
  const seq = 1 + model.mbq.imageTokenCount + 9;
  const feeds = randomInputs(11, 2, seq, 40, model.mbq.imageSize[0]);
  const [mine] = exec.execute(feeds, ['logits']);
  const gm = await loadGraphModel(dirHandler(dir));
  const ref = gm.execute(feeds, 'logits') as tf.Tensor;
  const scale = tf.max(tf.abs(ref)).dataSync()[0];
  expect(scale).toBeGreaterThan(1);
  expect(tf.max(tf.abs(tf.sub(mine, ref))).dataSync()[0]).toBeLessThan(1e-5 * scale);
  const a = analyseGraph(model.modelJson.modelTopology, model.weights);
  expect(a.blocks).toHaveLength(4);
  expect(a.blocks.map((b) => b.groups.map((g) => g.name).join(','))).toEqual(new Array(4).fill('attn-in,mlp-in,mlp-out'));
  tf.dispose([mine, ref, feeds.input_ids, feeds.pixel_values]);
  exec.dispose();
  gm.dispose();
});
