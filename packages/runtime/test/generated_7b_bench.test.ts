/**
 * The 7B decode benchmark's models at its tiny preset (packages/runtime/bench/decode_7b.ts, issue 17
 * target 2): built with weights made on demand and shards streamed, loaded with loadVlm, decoded
 * with the KV cache. W3 decodes the greedy tokens of the float graph of its own dequantized weights
 * and scores a continuation as it does (the quantized kernels compute what the weights say); the
 * float model of the same generated weights decodes too, and differs (the quantization is real).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, loadVlm, type Vlm } from '@tfjs-mbq/runtime';
import { writeGeneratedVlm, type GeneratedVlmOptions } from '../../../fixtures/src/model/generated_vlm.js';
import { WordTokenizer } from '../../../fixtures/src/tokenizer.js';
import { presetConfig } from '../bench/decode_7b_presets.js';
import { testImage } from './helpers/tiny_vlm.js';

const c = presetConfig('tiny');
const tok = WordTokenizer.fixture();
let root: string;
const vlms: Record<string, Vlm> = {};
const ops: Record<string, Record<string, number>> = {};
const built: Record<string, { weightBytes: number; shards: number }> = {};

beforeAll(async () => {
  await initBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'mbq-gen7b-'));
  for (const weights of ['quantized', 'dequantized', 'float'] as GeneratedVlmOptions['weights'][]) {
    const dir = join(root, weights);
    built[weights] = await writeGeneratedVlm(dir, c, tok, { weights, seed: 5, headGain: 3, shardBytes: 256 * 1024 });
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { modelTopology: { node: { op: string }[] } };
    ops[weights] = {};
    for (const n of json.modelTopology.node) ops[weights]![n.op] = (ops[weights]![n.op] ?? 0) + 1;
    vlms[weights] = await loadVlm(dir, { backend: 'cpu', maxWeightBytes: built[weights]!.weightBytes });
  }
});
afterAll(async () => {
  for (const v of Object.values(vlms)) v.dispose();
  await rm(root, { recursive: true, force: true });
});

test('the models: fused decoder ops, W3 linears in the quantized one only, shards streamed', () => {
  for (const w of ['quantized', 'dequantized', 'float']) {
    expect(vlms[w]!.decoding).toBe('kv-cache');
    expect(ops[w]!.MbqAttention).toBe(c.lm.layers);
    expect(ops[w]!.MbqSiluGate).toBe(c.lm.layers);
    expect(built[w]!.shards).toBeGreaterThan(1);
  }
  expect(ops.quantized!.MbqQuantizedMatMul).toBe(4 * c.lm.layers); // qkv, o, gate_up, down
  expect(ops.dequantized!.MbqQuantizedMatMul).toBeUndefined();
  expect(ops.float!.MbqQuantizedMatMul).toBeUndefined();
  expect(built.quantized!.weightBytes).toBeLessThan(built.float!.weightBytes);
});

test('W3 decodes the greedy tokens of its dequantized float graph and scores as it does; the float model differs', async () => {
  const image = testImage(c.imageSize, 3);
  const question = 'what color is the shape ?';
  const [w3, dq, fl] = await Promise.all(['quantized', 'dequantized', 'float'].map((w) => vlms[w]!.timeDecode(image, question, { steps: 6 })));
  expect(w3!.tokenIds).toHaveLength(7);
  expect(w3!.tokenIds).toEqual(dq!.tokenIds);
  expect(fl!.tokenIds).toHaveLength(7);
  const [s3, sd, sf] = await Promise.all(['quantized', 'dequantized', 'float'].map((w) => vlms[w]!.score(image, question, 'red circle')));
  expect(Math.abs(s3!.nll - sd!.nll)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(sd!.nll)));
  expect(Math.abs(sf!.nll - sd!.nll)).toBeGreaterThan(1e-3);
});
