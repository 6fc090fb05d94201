import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadVlm } from '@tfjs-mbq/runtime';
import { MBQ_JSON, TINY, testImage, writeTinyVlm } from './helpers/tiny_vlm.js';

describe('loadVlm + answer (re-run decoding) on a tiny random VLM', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mbq-runtime-'));
    await writeTinyVlm(join(dir, 'model'), { seed: 3 });
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('greedy answer equals an argmax loop over tf GraphModel runs of the whole sequence', async () => {
    const vlm = await loadVlm(join(dir, 'model'), { backend: 'cpu', kvCache: false });
    expect(vlm.backend).toBe('cpu');
    expect(vlm.decoding).toBe('re-run');
    const image = testImage(TINY.imageSize, 11);
    const gen = await vlm.generate(image, 'what color is the shape?', { maxNewTokens: 6 });
    const prompt = vlm.promptIds('what color is the shape?');
    expect(prompt.slice(0, 1 + MBQ_JSON.imageTokenCount)).toEqual([MBQ_JSON.bosTokenId, ...new Array(MBQ_JSON.imageTokenCount).fill(MBQ_JSON.imageTokenId)]);
    expect(gen.promptLength).toBe(prompt.length);

    // Reference: the same loop written directly against the graph model.
    const pixels = tf.tensor4d(Float32Array.from({ length: TINY.imageSize ** 2 * 3 }, (_, i) => image.data[Math.floor(i / 3) * 4 + (i % 3)]! / 255), [1, TINY.imageSize, TINY.imageSize, 3]);
    const ids = prompt.slice();
    const expected: number[] = [];
    for (let step = 0; step < 6; step++) {
      const logits = vlm.model.execute({ pixel_values: pixels, input_ids: tf.tensor2d(ids, [1, ids.length], 'int32') }, 'logits') as tf.Tensor;
      const row = (await logits.data()).slice((ids.length - 1) * logits.shape[2]!);
      const next = row.indexOf(Math.max(...row));
      if (next === MBQ_JSON.eosTokenId) break;
      expected.push(next);
      ids.push(next);
    }
    expect(gen.tokenIds).toEqual(expected);
    expect(gen.tokenIds.length).toBeGreaterThan(0);
    expect(gen.text).toBe(vlm.tokenizer.decode(expected));
    expect(await vlm.answer(image, 'what color is the shape?', { maxNewTokens: 6 })).toBe(gen.text);
    vlm.dispose();
  });

  it('stops at the model\'s max_position_embeddings (config.json) and rejects longer prompts', async () => {
    const dir2 = join(dir, 'eosless');
    await writeTinyVlm(dir2, { seed: 4, eosScale: 0 });
    for (const kvCache of [true, false]) {
      const vlm = await loadVlm(dir2, { backend: 'cpu', kvCache });
      expect(vlm.maxSequenceLength).toBe(TINY.maxSeq);
      const words = (n: number): string => new Array(n).fill('red').join(' ');
      // 1 + 4 image tokens + 40 words = 45 positions: 4 answer tokens (the last predicted at position 47).
      const gen = await vlm.generate(testImage(TINY.imageSize), words(40), { maxNewTokens: 16 });
      expect(gen.tokenIds).toHaveLength(TINY.maxSeq - 45 + 1);
      await expect(vlm.answer(testImage(TINY.imageSize), words(TINY.maxSeq))).rejects.toThrow(/takes at most 48 positions/);
      vlm.dispose();
    }
  });

  it('fails clearly on a model directory without mbq.json or a graph without pixel_values', async () => {
    const bad = join(dir, 'bad');
    await writeTinyVlm(bad);
    await rm(join(bad, 'mbq.json'));
    await expect(loadVlm(bad, { backend: 'cpu' })).rejects.toThrow(/bad\/mbq.json: file not found/);
    await writeFile(join(bad, 'mbq.json'), JSON.stringify({ ...MBQ_JSON, imageSize: [8] }));
    await expect(loadVlm(bad, { backend: 'cpu' })).rejects.toThrow(/mbq.json: "imageSize" must be \[H, W\]/);
  });
});
