/** Graph analysis on small hand-built graphs, including ones it must refuse (naming the node). */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { GraphBuilder, attr, analyseGraph, ConversionError, type WeightMap, type GraphDefJson } from '@tfjs-mbq/converter';
import { concatBytes, decodeWeights } from '@tfjs-mbq/format';
import { measureSensitivity, captionCrossEntropy } from '../src/sensitivity/index.js';
import { batchedSensitivity } from '../src/sensitivity/batched.js';
import { GraphExecutor } from '../src/graph/executor.js';
import { loadModelDir } from '../src/io/load.js';
import { writeSyntheticModel } from './helpers/synthetic.js';
import type { CalibSample } from '../src/calib/load.js';

const F = { T: attr.type('float32') };

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647) - 0.5);
}

function weightsOf(b: GraphBuilder): { graph: GraphDefJson; weights: WeightMap } {
  const { modelJson, shards } = b.build();
  const weights: WeightMap = decodeWeights({ modelJson, where: 'model.json', groups: [{ bytes: concatBytes(shards), shards: [] }] });
  return { graph: modelJson.modelTopology, weights };
}

/** x -> RMS-free "norm" (gamma Mul) -> three linears whose outputs are simply summed: no attention to analyse. */
function threeLinearsNoAttention(): GraphBuilder {
  const b = new GraphBuilder();
  const ids = b.placeholder('input_ids', 'int32', [-1, -1]);
  const emb = b.op('embed', 'GatherV2', [b.constant('table', rand(20 * 8, 1), [20, 8]), ids, b.constant('axis', Int32Array.of(0), [], 'int32')], { Tparams: attr.type('float32'), Tindices: attr.type('int32') });
  const normed = b.op('norm/mul_gamma', 'Mul', [emb, b.constant('norm/weight', rand(8, 2), [8])], F);
  const ys = ['a', 'b', 'c'].map((n, i) => b.op(`${n}/MatMul`, 'MatMul', [normed, b.constant(`${n}/weight`, rand(64, 3 + i), [8, 8])], F));
  b.op('sum1', 'AddV2', [ys[0], ys[1]], F);
  b.op('logits', 'AddV2', ['sum1', ys[2]], F);
  return b;
}

test('refuses a q/k/v-like group that feeds no attention, naming the node', () => {
  const { graph, weights } = weightsOf(threeLinearsNoAttention());
  let err: unknown;
  try { analyseGraph(graph, weights); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(ConversionError);
  expect((err as ConversionError).code).toBe('GRAPH_ANALYSIS');
  expect((err as Error).message).toMatch(/^node "a\/MatMul": decoder block 0 .*cannot tell q, k and v apart/);
});

test('refuses an op it cannot run, naming the node', () => {
  const b = threeLinearsNoAttention();
  b.op('weird', 'FFT', ['logits'], F);
  const { graph, weights } = weightsOf(b);
  expect(() => analyseGraph(graph, weights)).toThrow(/node "weird": op FFT is not supported/);
});

test('refuses W·x with a constant first operand', () => {
  const b = new GraphBuilder();
  const x = b.placeholder('x', 'float32', [4, 3]);
  b.op('y', 'MatMul', [b.constant('w', rand(16, 5), [4, 4]), x], F);
  const { graph, weights } = weightsOf(b);
  expect(() => analyseGraph(graph, weights)).toThrow(/node "y": MatMul with a constant first operand/);
});

test('finds linears in a graph without decoder blocks, reading weights in both layouts', () => {
  const b = new GraphBuilder();
  const x = b.placeholder('x', 'float32', [-1, 6]);
  b.op('l1/MatMul', 'MatMul', [x, b.constant('l1/weight', rand(6 * 4, 7), [6, 4])], { ...F, transpose_b: attr.bool(false) });
  b.op('l2/MatMul', 'MatMul', ['l1/MatMul', b.constant('l2/weight', rand(5 * 4, 8), [5, 4])], { ...F, transpose_b: attr.bool(true) });
  b.op('act', 'BatchMatMulV2', ['l1/MatMul', 'l1/MatMul'], { ...F, adj_y: attr.bool(true) }); // two activations: not a linear
  const { graph, weights } = weightsOf(b);
  const a = analyseGraph(graph, weights);
  expect(a.blocks).toEqual([]);
  expect([...a.linears.values()].map((l) => [l.node, l.K, l.N, l.weightKN])).toEqual([['l1/MatMul', 6, 4, true], ['l2/MatMul', 4, 5, false]]);
});

test('batched sensitivity equals measureSensitivity run sample by sample', async () => {
  await initBackend('cpu');
  const dir = await writeSyntheticModel({ layers: 3, seed: 61 });
  const model = await loadModelDir(dir);
  const analysis = analyseGraph(model.modelJson.modelTopology, model.weights);
  const exec = new GraphExecutor(model.modelJson.modelTopology, model.weights);
  const [H, W] = model.mbq.imageSize;
  const samples: CalibSample[] = [9, 5, 12].map((extra, i) => {
    const len = 1 + model.mbq.imageTokenCount + extra;
    const ids = Int32Array.from({ length: len }, (_, p) => (p === 0 ? model.mbq.bosTokenId : p <= model.mbq.imageTokenCount ? model.mbq.imageTokenId : 5 + ((p * 7 + i) % 30)));
    const visionMask = new Uint8Array(len).fill(1, 1, 1 + model.mbq.imageTokenCount);
    const captionMask = new Uint8Array(len).fill(1, len - 3, len);
    return { line: i + 1, image: `${i}.png`, inputIds: ids, pixels: rand(H * W * 3, 70 + i).map((v) => v + 0.5), visionMask, captionMask };
  });
  const batched = await batchedSensitivity(exec, analysis, { inputIds: 'input_ids', pixelValues: 'pixel_values', logits: 'logits' }, samples, [H, W], 0, 2);
  const specs = analysis.blocks.flatMap((b) => [
    { name: b.o, block: b.index, site: 'attn' as const, channels: 64 },
    { name: b.down, block: b.index, site: 'mlp' as const, channels: 64 },
  ]);
  const ref = await measureSensitivity(samples, (i, probes) => {
    const s = samples[i];
    const feeds = { input_ids: tf.tensor2d(s.inputIds, [1, s.inputIds.length], 'int32'), pixel_values: tf.tensor4d(s.pixels, [1, H, W, 3]) };
    const add = new Map([...probes].map(([k, v]) => [k, tf.expandDims(v, 0)]));
    const [logits] = exec.execute(feeds, ['logits'], { addToOutput: add, tidy: false });
    return captionCrossEntropy(logits, s.inputIds, s.captionMask);
  }, specs);
  expect(batched.blocks).toHaveLength(3);
  for (let i = 0; i < 3; i++) {
    for (const site of ['attn', 'mlp'] as const) {
      const a = batched.blocks[i][site]; const r = ref.blocks[i][site];
      expect(a.gTxt).toBeGreaterThan(0);
      expect(Math.abs(a.gVis - r.gVis)).toBeLessThan(1e-4 * r.gVis + 1e-12);
      expect(Math.abs(a.gTxt - r.gTxt)).toBeLessThan(1e-4 * r.gTxt);
      expect(a.clamped).toBeCloseTo(r.clamped, 6);
    }
  }
});
