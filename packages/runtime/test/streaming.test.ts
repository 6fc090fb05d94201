/**
 * What users of tfjs / transformers.js / WebLLM expect from a loader and a generator (issue 14 §3):
 * `loadVlm(..., { onProgress })` reports weight bytes read of the total (checked against the shard
 * files on disk, and shard by shard on a two-shard model), and `generate(..., { onToken, signal })`
 * streams exactly the tokens it returns and stops on an AbortSignal without leaking tensors.
 * The float fixture on cpu; the image is a fixed shapes-vqa PNG.
 */
import { mkdtemp, readFile, rm, stat, writeFile, copyFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { Jimp } from 'jimp';
import { readGraphModel, type ModelJson } from '@tfjs-mbq/format';
import { fileSource } from '@tfjs-mbq/format/node';
import { loadVlm, type GeneratedToken, type LoadProgress, type Vlm } from '@tfjs-mbq/runtime';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const FIXTURE = join(root, 'fixtures/tiny-vlm');
const EVAL = join(root, 'fixtures/shapes-vqa/eval');
const item = readFileSync(join(EVAL, 'manifest.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l) as { image: string; question?: string }).find((x) => x.question)!;

describe('loadVlm onProgress', () => {
  it('reports 0 of the total, the bytes after each shard, then graph and ready; the total is the shards on disk', async () => {
    const events: LoadProgress[] = [];
    const vlm = await loadVlm(FIXTURE, { backend: 'cpu', onProgress: (p) => events.push({ ...p }) });
    vlm.dispose();
    const json = JSON.parse(await readFile(join(FIXTURE, 'model.json'), 'utf8')) as ModelJson;
    let onDisk = 0;
    for (const p of json.weightsManifest.flatMap((g) => g.paths)) onDisk += (await stat(join(FIXTURE, p))).size;
    expect(events[0]).toEqual({ stage: 'weights', loadedBytes: 0, totalBytes: onDisk });
    const weights = events.filter((e) => e.stage === 'weights');
    expect(weights.length).toBe(1 + json.weightsManifest.flatMap((g) => g.paths).length);
    expect(weights[weights.length - 1]).toMatchObject({ loadedBytes: onDisk, totalBytes: onDisk });
    expect(weights[weights.length - 1]!.file).toMatch(/group1-shard1of1\.bin$/);
    expect(events.slice(weights.length)).toEqual([
      { stage: 'graph', loadedBytes: onDisk, totalBytes: onDisk },
      { stage: 'ready', loadedBytes: onDisk, totalBytes: onDisk },
    ]);
  });

  it('counts shard by shard on a model split into three shards (format reader)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mbq-progress-'));
    try {
      const json = JSON.parse(await readFile(join(FIXTURE, 'model.json'), 'utf8')) as ModelJson;
      const bytes = await readFile(join(FIXTURE, json.weightsManifest[0]!.paths[0]!));
      const cuts = [0, 1_000_000, 2_000_000, bytes.byteLength];
      const paths = ['s1.bin', 's2.bin', 's3.bin'];
      for (let i = 0; i < 3; i++) await writeFile(join(dir, paths[i]!), bytes.subarray(cuts[i], cuts[i + 1]));
      json.weightsManifest[0]!.paths = paths;
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      const seen: Array<[number, number, string | undefined]> = [];
      await readGraphModel(fileSource(dir), { onProgress: (p) => seen.push([p.loadedBytes, p.totalBytes, p.file?.split('/').pop()]) });
      const n = bytes.byteLength;
      expect(seen).toEqual([[0, n, undefined], [cuts[1], n, 's1.bin'], [cuts[2], n, 's2.bin'], [n, n, 's3.bin']]);
      // The runtime reads the split model the same way and gives the same first events.
      for (const f of ['mbq.json', 'tokenizer.json', 'config.json']) await copyFile(join(FIXTURE, f), join(dir, f));
      const events: LoadProgress[] = [];
      const vlm = await loadVlm(join(dir, 'model.json'), { backend: 'cpu', kvCache: false, onProgress: (p) => events.push(p) });
      vlm.dispose();
      expect(events.map((e) => `${e.stage} ${e.loadedBytes}`)).toEqual([`weights 0`, `weights ${cuts[1]}`, `weights ${cuts[2]}`, `weights ${n}`, `graph ${n}`, `ready ${n}`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('generate onToken and signal', () => {
  let vlm: Vlm;
  let image: Awaited<ReturnType<typeof Jimp.read>>;
  beforeAll(async () => {
    vlm = await loadVlm(FIXTURE, { backend: 'cpu' });
    image = await Jimp.read(join(EVAL, item.image));
  });
  afterAll(() => vlm?.dispose());

  it('streams each generated token in order; the pieces make the returned text', async () => {
    const streamed: GeneratedToken[] = [];
    // minNewTokens keeps EOS away so that several tokens stream.
    const gen = await vlm.generate(image, item.question!, { maxNewTokens: 5, minNewTokens: 5, onToken: (t) => streamed.push(t) });
    expect(gen.tokenIds.length).toBe(5);
    expect(streamed.map((t) => t.id)).toEqual(gen.tokenIds);
    expect(streamed.map((t) => t.index)).toEqual([0, 1, 2, 3, 4]);
    expect(streamed.map((t) => t.delta).join('')).toBe(gen.text);
    expect(streamed[4]!.text).toBe(gen.text);
    streamed.forEach((t, i) => expect(t.text).toBe(vlm.tokenizer.decode(gen.tokenIds.slice(0, i + 1))));
    // Streaming changes nothing about the answer.
    expect((await vlm.generate(image, item.question!, { maxNewTokens: 5, minNewTokens: 5 })).tokenIds).toEqual(gen.tokenIds);
  });

  it('stops at an abort during generation, rejects with the reason, and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const streamed: number[] = [];
    // Aborted from a timer callback (an event, as a click would be) after the first token.
    const run = vlm.generate(image, item.question!, {
      maxNewTokens: 12, minNewTokens: 12, signal: controller.signal,
      onToken: (t) => { streamed.push(t.id); if (t.index === 0) setTimeout(() => controller.abort(), 0); },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(streamed.length).toBeGreaterThanOrEqual(1);
    expect(streamed.length).toBeLessThan(12);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses an already aborted signal before running, with its reason', async () => {
    const controller = new AbortController();
    const reason = new Error('user left');
    controller.abort(reason);
    let tokens = 0;
    await expect(vlm.generate(image, item.question!, { signal: controller.signal, onToken: () => { tokens++; } })).rejects.toBe(reason);
    expect(tokens).toBe(0);
  });

  it('an onToken that throws stops generation with its error', async () => {
    const before = tf.memory().numTensors;
    await expect(vlm.answer(image, item.question!, { minNewTokens: 3, onToken: () => { throw new Error('sink closed'); } })).rejects.toThrow('sink closed');
    expect(tf.memory().numTensors).toBe(before);
  });
});
