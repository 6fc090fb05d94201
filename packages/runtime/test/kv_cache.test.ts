import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadVlm } from '@tfjs-mbq/runtime';
import { TINY, testImage, writeTinyVlm } from './helpers/tiny_vlm.js';

describe('KV-cache decoding (step graph derived from the prefill graph)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mbq-kv-'));
    await writeTinyVlm(join(dir, 'causal'), { seed: 6, layers: 2, eosScale: 0 });
    await writeTinyVlm(join(dir, 'bidirectional'), { seed: 6, layers: 2, causal: false });
    await writeTinyVlm(join(dir, 'opaque'), { seed: 6, layers: 2, opaqueOp: true });
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('caches keys and values, and decodes the same tokens as re-running the whole sequence', async () => {
    const cached = await loadVlm(join(dir, 'causal'), { backend: 'cpu' });
    expect(cached.decoding).toBe('kv-cache');
    // 2 layers x 1 KV head x (keys, values).
    expect(cached.decodingNote).toMatch(/^4 cached tensors/);
    const plain = await loadVlm(join(dir, 'causal'), { backend: 'cpu', kvCache: false });
    expect(plain.decoding).toBe('re-run');
    const before = tf.memory().numTensors;
    // '' : a prompt of only BOS and image tokens (the first step's token starts the text suffix).
    for (const [seed, q] of [[1, 'what color is the shape?'], [2, 'is the circle big ?'], [3, 'what shape is the small square'], [4, '']] as const) {
      const img = testImage(TINY.imageSize, seed);
      const a = await cached.generate(img, q, { maxNewTokens: 14 });
      const b = await plain.generate(img, q, { maxNewTokens: 14 });
      // EOS is never chosen by this model: 14 steps, the cache grows to the prompt + 13 tokens.
      expect(a.tokenIds).toHaveLength(14);
      expect(a.tokenIds).toEqual(b.tokenIds);
      expect(new Set(a.tokenIds).size).toBeGreaterThan(1);
    }
    expect(tf.memory().numTensors).toBe(before); // the decoders free their caches
    cached.dispose();
    plain.dispose();
  });

  it('step logits match full-run logits position by position', async () => {
    const cached = await loadVlm(join(dir, 'causal'), { backend: 'cpu' });
    const img = testImage(TINY.imageSize, 9);
    const gen = await cached.generate(img, 'what color', { maxNewTokens: 8 });
    const ids = [...cached.promptIds('what color'), ...gen.tokenIds];
    const pixels = tf.tensor4d(Float32Array.from({ length: TINY.imageSize ** 2 * 3 }, (_, i) => img.data[Math.floor(i / 3) * 4 + (i % 3)]! / 255), [1, TINY.imageSize, TINY.imageSize, 3]);
    const full = cached.model.execute({ pixel_values: pixels, input_ids: tf.tensor2d(ids, [1, ids.length], 'int32') }, 'logits') as tf.Tensor;
    const fullRows = await full.array() as number[][][];
    // Re-decode with the cache, step by step, and compare each step's logits with the full run's row.
    const { KvCacheDecoder } = await import('../src/decoding/kv/kv_decoder.js');
    const decoder = (cached as unknown as { makeDecoder: () => InstanceType<typeof KvCacheDecoder> }).makeDecoder();
    const prompt = cached.promptIds('what color');
    (await decoder.prefillLogits(pixels, prompt)).dispose();
    let worst = 0;
    for (let t = 0; t < gen.tokenIds.length; t++) {
      const step = await decoder.stepLogits(gen.tokenIds[t]!);
      const row = (await step.data()) as Float32Array;
      step.dispose();
      const ref = fullRows[0]![prompt.length + t]!;
      for (let v = 0; v < row.length; v++) worst = Math.max(worst, Math.abs(row[v]! - ref[v]!));
    }
    decoder.dispose();
    expect(worst).toBeLessThan(1e-4);
    cached.dispose();
  });

  it('falls back to re-running when the step disagrees with a full run (no causal mask)', async () => {
    const vlm = await loadVlm(join(dir, 'bidirectional'), { backend: 'cpu' });
    expect(vlm.decoding).toBe('re-run');
    expect(vlm.decodingNote).toMatch(/cached step disagrees with a full run/);
    expect((await vlm.generate(testImage(TINY.imageSize, 1), 'what color', { maxNewTokens: 3 })).tokenIds.length).toBeGreaterThan(0);
    vlm.dispose();
  });

  it('falls back to re-running when an unknown op would make a step recompute matmuls over the whole sequence', async () => {
    const vlm = await loadVlm(join(dir, 'opaque'), { backend: 'cpu' });
    expect(vlm.decoding).toBe('re-run');
    expect(vlm.decodingNote).toMatch(/still run \d+ matmul\(s\) over the whole sequence \(lm\/layers\.0\//);
    const plain = await loadVlm(join(dir, 'opaque'), { backend: 'cpu', kvCache: false });
    const img = testImage(TINY.imageSize, 2);
    expect((await vlm.generate(img, 'what color', { maxNewTokens: 4 })).tokenIds).toEqual((await plain.generate(img, 'what color', { maxNewTokens: 4 })).tokenIds);
    vlm.dispose();
    plain.dispose();
  });
});
