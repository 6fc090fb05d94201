import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import '@tfjs-mbq/ops';
import { convert, dirHandler, GraphExecutor, quantizedOverrides, type ConvertResult } from '@tfjs-mbq/converter';
import { writeSyntheticModel } from './helpers/synthetic.js';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');
let modelDir: string;

beforeAll(async () => {
  await initBackend('wasm');
  modelDir = await writeSyntheticModel({ layers: 2, seed: 31 });
});

function feedsFor(seed: number, image: number) {
  let s = seed;
  const r = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const ids = Int32Array.from({ length: 2 * 40 }, (_, i) => (i % 40 === 0 ? 2 : 5 + Math.floor(r() * 30)));
  return { input_ids: tf.tensor2d(ids, [2, 40], 'int32'), pixel_values: tf.tensor4d(Float32Array.from({ length: 2 * image * image * 3 }, r), [2, image, image, 3]) };
}

async function check(result: ConvertResult, expectCustom: boolean): Promise<void> {
  const m = result.model!;
  const feeds = feedsFor(3, 32);
  const exec = new GraphExecutor(m.state.graph, m.state.weights);
  const [mine] = exec.execute(feeds, [m.io.logits], { nodeOverrides: quantizedOverrides(m.analysis, m.quantized) });
  const [float] = exec.execute(feeds, [m.io.logits]);
  const json = JSON.parse(readFileSync(join(result.outDir, 'model.json'), 'utf8'));
  const ops = new Set<string>(json.modelTopology.node.map((n: { op: string }) => n.op));
  expect(ops.has('MbqQuantizedMatMul')).toBe(expectCustom);
  const gm = await loadGraphModel(dirHandler(result.outDir));
  const theirs = gm.execute(feeds, m.io.logits) as tf.Tensor;
  const scale = tf.max(tf.abs(mine)).dataSync()[0];
  const diff = tf.max(tf.abs(tf.sub(mine, theirs))).dataSync()[0];
  const quantEffect = tf.max(tf.abs(tf.sub(mine, float))).dataSync()[0];
  expect(scale).toBeGreaterThan(0.1);
  expect(diff / scale).toBeLessThan(1e-4);
  // The comparison is meaningful: quantization moved the logits far more than the tolerance.
  expect(quantEffect / scale).toBeGreaterThan(1e-3);
  gm.dispose();
  exec.dispose();
}

test('W3 quantized graph loads with tf.loadGraphModel and matches the pseudo-quantized evaluation', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'mbq-emit-')), 'w3');
  const r = await convert({ modelDir, calibDir: CALIB, outDir: out, samples: 4, seed: 2, gridSize: 4, keepModel: true });
  expect(readdirSync(out).sort()).toEqual(['config.json', 'group1-shard1of1.bin', 'mbq.json', 'model.json', 'quantization.json', 'report.html', 'tokenizer.json']);
  expect(r.quantization.linears).toHaveLength(14);
  expect(r.quantization.linears.every((l) => l.bits === 3 && l.groupSize === 64)).toBe(true);
  await check(r, true);
});

test('--emit float writes a plain graph that matches the pseudo-quantized evaluation', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'mbq-emit-')), 'float');
  const r = await convert({ modelDir, calibDir: CALIB, outDir: out, samples: 4, seed: 2, gridSize: 4, keepModel: true, method: 'awq', wBits: 4, emit: 'float' });
  await check(r, false);
});

test('W4A8 (mbq) emits act_bits 8 nodes that match the pseudo-quantized evaluation', async () => {
  // cpu: tfjs-converter's batched matmuls and the executor's flattened ones sum in the same order
  // there. On wasm they differ in the last bit, and per-token int8 rounding turns that into
  // occasional one-step code flips, which no tolerance on the logits can absorb.
  await initBackend('cpu');
  const out = join(mkdtempSync(join(tmpdir(), 'mbq-emit-')), 'w4a8');
  const r = await convert({ modelDir, calibDir: CALIB, outDir: out, samples: 4, seed: 2, gridSize: 4, keepModel: true, wBits: 4, aBits: 8 });
  const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
  const q = json.modelTopology.node.find((n: { op: string }) => n.op === 'MbqQuantizedMatMul');
  expect(q.attr.act_bits).toEqual({ i: '8' });
  expect(q.attr.group_size.i).toBe(q.attr.in_features.i);
  await check(r, true);
});

test('--rotate keeps the float model (1e-4) and its W4 emission matches the pseudo-quantized evaluation', async () => {
  await initBackend('wasm');
  const out = join(mkdtempSync(join(tmpdir(), 'mbq-emit-')), 'rot');
  const r = await convert({ modelDir, calibDir: CALIB, outDir: out, samples: 4, seed: 2, gridSize: 4, keepModel: true, wBits: 4, rotate: true });
  expect(r.quantization.rotation!.logitsRelativeError!).toBeLessThan(1e-4);
  expect(r.quantization.rotation!.residualSize).toBe(64);
  const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
  expect(json.modelTopology.node.filter((n: { name: string }) => n.name.endsWith('down_proj/MatMul/mbq_hadamard'))).toHaveLength(2);
  await check(r, true);
});
