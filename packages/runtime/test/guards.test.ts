/**
 * Issue 6: the runtime on hostile input. loadVlm on a damaged model directory (or URL) fails with
 * an error naming the file and the problem, before tfjs sees the model; a missing image fails
 * clearly; neither leaves tensors behind.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, loadVlm, type FetchLike, type ImageInput } from '@tfjs-mbq/runtime';
import { TINY, testImage, writeTinyVlm } from './helpers/tiny_vlm.js';

let root: string;
let good: string;

beforeAll(async () => {
  await initBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'mbq-rt-guards-'));
  good = join(root, 'good');
  await writeTinyVlm(good, { seed: 5 });
});
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

type Json = { weightsManifest: Array<{ paths: string[]; weights: Array<{ name: string; shape: number[]; dtype: string }> }>; [k: string]: unknown };

async function editModelJson(dir: string, edit: (j: Json) => void): Promise<void> {
  const j = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as Json;
  edit(j);
  await writeFile(join(dir, 'model.json'), JSON.stringify(j));
}

const SHARD = 'group1-shard1of1.bin';

interface Case { name: string; damage: (dir: string) => Promise<unknown>; expect: (dir: string) => RegExp }

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const cases: Case[] = [
  { name: 'malformed model.json', damage: (d) => writeFile(join(d, 'model.json'), '{"format": "graph-model", modelTopology: }'), expect: (d) => new RegExp(`${esc(join(d, 'model.json'))}: invalid JSON`) },
  {
    name: 'truncated model.json', expect: (d) => new RegExp(`${esc(join(d, 'model.json'))}: invalid JSON.*(end|Unterminated)`, 'i'),
    damage: async (d) => writeFile(join(d, 'model.json'), (await readFile(join(d, 'model.json'), 'utf8')).slice(0, 300)),
  },
  { name: 'wrong format', damage: (d) => editModelJson(d, (j) => { j.format = 'layers-model'; }), expect: (d) => new RegExp(`${esc(join(d, 'model.json'))}: format "layers-model" is not a tfjs graph model`) },
  { name: 'no weightsManifest', damage: (d) => editModelJson(d, (j) => { delete (j as Record<string, unknown>).weightsManifest; }), expect: () => /model.json: "weightsManifest" must be an array/ },
  { name: 'missing shard', damage: (d) => rm(join(d, SHARD)), expect: (d) => new RegExp(`${esc(join(d, SHARD))}: weight shard listed in .*model.json is missing \\(file not found\\)`) },
  {
    name: 'shard too short', expect: (d) => new RegExp(`${esc(join(d, SHARD))}: weight shards of group 0 hold 100 bytes, .*model.json describes \\d+ \\(shard missing data`),
    damage: async (d) => writeFile(join(d, SHARD), (await readFile(join(d, SHARD))).subarray(0, 100)),
  },
  {
    name: 'shape larger than the shard (shape mismatch)', expect: () => /model.json: Const node "vision\/patch_embed\/weight" has shape \[48,16\] but its manifest weight has shape \[96,16\]/,
    damage: (d) => editModelJson(d, (j) => { const w = j.weightsManifest[0]!.weights.find((x) => x.shape.length === 2)!; w.shape = [w.shape[0]! * 2, w.shape[1]!]; }),
  },
  {
    name: 'shard longer than described (dtype mismatch)', expect: () => /model.json: Const node "vision\/patch_embed\/weight" is DT_FLOAT but its manifest weight is bool/,
    damage: (d) => editModelJson(d, (j) => { const w = j.weightsManifest[0]!.weights.find((x) => x.dtype === 'float32')!; w.dtype = 'bool'; }),
  },
  { name: 'unsupported dtype', damage: (d) => editModelJson(d, (j) => { j.weightsManifest[0]!.weights[0]!.dtype = 'float64'; }), expect: () => /model.json: weight ".*": unsupported dtype "float64"/ },
  { name: 'negative shape', damage: (d) => editModelJson(d, (j) => { j.weightsManifest[0]!.weights[0]!.shape = [-1, 4]; }), expect: () => /shape must be an array of non-negative integers, got \[-1,4\]/ },
  { name: "a '../' shard path", damage: (d) => editModelJson(d, (j) => { j.weightsManifest[0]!.paths = [`../good/${SHARD}`]; }), expect: () => /weight path '\.\.\/good\/group1-shard1of1.bin' leaves the model's location/ },
  { name: 'an absolute shard path', damage: (d) => editModelJson(d, (j) => { j.weightsManifest[0]!.paths = [join(good, SHARD)]; }), expect: () => /leaves the model's location/ },
  { name: 'a URL shard path', damage: (d) => editModelJson(d, (j) => { j.weightsManifest[0]!.paths = ['https://example.com/w.bin']; }), expect: () => /weight path 'https:\/\/example.com\/w.bin' leaves the model's location/ },
  { name: 'missing tokenizer.json', damage: (d) => rm(join(d, 'tokenizer.json')), expect: (d) => new RegExp(`${esc(join(d, 'tokenizer.json'))}: file not found`) },
  { name: 'malformed mbq.json', damage: (d) => writeFile(join(d, 'mbq.json'), '{"imageTokenCount": 4,'), expect: (d) => new RegExp(`${esc(join(d, 'mbq.json'))}: invalid JSON`) },
];

describe.each(cases)('loadVlm: $name', (c) => {
  test('fails with an error naming the file and the problem, and leaks nothing', async () => {
    const dir = await mkdtemp(join(root, 'bad-'));
    await cp(good, dir, { recursive: true });
    await c.damage(dir);
    const before = tf.memory().numTensors;
    await expect(loadVlm(dir, { backend: 'cpu' })).rejects.toThrow(c.expect(dir));
    expect(tf.memory().numTensors).toBe(before);
  });
});

test('loadVlm: a model directory that does not exist names model.json', async () => {
  const dir = join(root, 'nowhere');
  await expect(loadVlm(dir, { backend: 'cpu' })).rejects.toThrow(new RegExp(`${esc(join(dir, 'model.json'))}: file not found`));
});

test('loadVlm over HTTP: an escaping shard path is refused before anything is fetched, and a 404 names the URL', async () => {
  const files = new Map<string, Uint8Array>();
  for (const f of ['model.json', 'mbq.json', 'tokenizer.json', 'config.json', SHARD]) {
    try { files.set(f, new Uint8Array(await readFile(join(good, f)))); } catch { /* config.json is optional */ }
  }
  const requested: string[] = [];
  const fetchStub: FetchLike = async (url) => {
    requested.push(url);
    const body = files.get(url.replace('https://models.example/m/', ''));
    return { ok: !!body, status: body ? 200 : 404, statusText: body ? 'OK' : 'Not Found', arrayBuffer: async () => (body ?? new Uint8Array()).slice().buffer };
  };
  const j = JSON.parse(new TextDecoder().decode(files.get('model.json'))) as Json;
  j.weightsManifest[0]!.paths = ['../other/w.bin'];
  files.set('model.json', new TextEncoder().encode(JSON.stringify(j)));
  await expect(loadVlm('https://models.example/m', { backend: 'cpu', fetch: fetchStub })).rejects.toThrow(/https:\/\/models.example\/m\/model.json: weight path '\.\.\/other\/w.bin' leaves/);
  expect(requested.some((u) => u.includes('w.bin'))).toBe(false);
  j.weightsManifest[0]!.paths = ['gone.bin'];
  files.set('model.json', new TextEncoder().encode(JSON.stringify(j)));
  await expect(loadVlm('https://models.example/m', { backend: 'cpu', fetch: fetchStub })).rejects.toThrow('https://models.example/m/gone.bin: weight shard listed in https://models.example/m/model.json is missing (HTTP 404 Not Found)');
});

test('answer: a missing image (undefined, null) or a path instead of pixels fails clearly and leaks nothing', async () => {
  const vlm = await loadVlm(good, { backend: 'cpu', kvCache: false });
  try {
    const ok = await vlm.generate(testImage(TINY.imageSize), 'what color is the circle ?', { maxNewTokens: 2 });
    expect(ok.tokenIds.length).toBeGreaterThan(0); // the model itself works
    const before = tf.memory().numTensors;
    await expect(vlm.answer(undefined as unknown as ImageInput, 'what color ?')).rejects.toThrow('image: no image given (got undefined)');
    await expect(vlm.answer(null as unknown as ImageInput, 'what color ?')).rejects.toThrow('image: no image given (got null)');
    await expect(vlm.answer('/data/cat.png' as unknown as ImageInput, 'what color ?')).rejects.toThrow(/image: got the string '\/data\/cat.png'; pass decoded pixels/);
    await expect(vlm.answer({ data: new Uint8Array(12), width: 2, height: 2 }, 'what color ?')).rejects.toThrow(/image: 12 bytes for 2x2 RGBA \(expected 16\)/);
    expect(tf.memory().numTensors).toBe(before);
  } finally {
    vlm.dispose();
  }
});
