/**
 * The runtime on imported Hugging Face checkpoints (fixtures/hf/llava-1.5-tiny and its
 * transformers-4 layout, through `@tfjs-mbq/importer`), driven the way users drive it: `answer()`
 * with a decoded PNG and a question. The image goes through mbq.json's image processor and the
 * question through the chat template and LlavaProcessor's image-token expansion; against
 * transformers 5.17's records of the same PNG and question: pixel_values within 1e-5, prompt ids
 * equal, and the 16 greedy tokens equal (generated as transformers did, EOS masked: minNewTokens 16).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jimp } from 'jimp';
import * as tf from '@tensorflow/tfjs-core';
import { importCheckpoint } from '@tfjs-mbq/importer';
import { loadVlm, type RgbaImage, type Vlm } from '@tfjs-mbq/runtime';
import { nchwToNhwc, readRecords } from '../../importer/test/helpers/hf_records.js';

const PIXEL_TOLERANCE = 1e-5;

/** The case's PNG (repo-relative path in records.json). */
function imagePath(c: object): string {
  return (c as { image: string }).image;
}

async function readPng(path: string): Promise<RgbaImage> {
  const image = await Jimp.read(readFileSync(path));
  return { data: new Uint8Array(image.bitmap.data), width: image.bitmap.width, height: image.bitmap.height };
}

describe.each(['llava-1.5-tiny', 'llava-1.5-tiny-tf4'])('%s imported, answered from PNGs', (name) => {
  const hfDir = join('fixtures/hf', name);
  let tmp: string;
  let vlm: Vlm;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'hf-llava-runtime-'));
    const out = join(tmp, 'model');
    await importCheckpoint({ hfDir, outDir: out });
    vlm = await loadVlm(out, { backend: 'cpu' });
  });
  afterAll(() => {
    vlm?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('pixel_values within 1e-5 and prompt ids equal to the processor\'s, for every recorded case', async () => {
    const { cases, tensors } = await readRecords(hfDir);
    expect(cases.length).toBe(3);
    const [h, w] = vlm.config.imageSize;
    for (const c of cases) {
      const png = await readPng(imagePath(c));
      expect([png.width, png.height]).not.toEqual([w, h]); // the processor resizes and crops (64x64 -> 42x42)
      const img = vlm.inputs.image(png, 'test');
      const expected = nchwToNhwc((await tensors(c.index)).pixelValues, 3, h, w);
      expect(img.shape).toEqual([1, h, w, 3]);
      let diff = 0;
      for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(img.pixels[i]! - expected[i]!));
      expect(diff).toBeLessThanOrEqual(PIXEL_TOLERANCE);
      expect(vlm.inputs.prompt(c.question, img.processed, 'test')).toEqual(c.input_ids);
      expect(vlm.promptIds(c.question)).toEqual(c.input_ids);
    }
  });

  test('answer() on the PNG gives transformers\' 16 greedy tokens', async () => {
    const { cases } = await readRecords(hfDir);
    for (const c of cases) {
      const png = await readPng(imagePath(c));
      // transformers generated with min_new_tokens=16 (EOS masked), which the records need.
      const g = await vlm.generate(png, c.question, { maxNewTokens: 16, minNewTokens: 16 });
      expect(g.promptLength).toBe(c.input_ids.length);
      expect(g.tokenIds).toEqual(c.greedy_token_ids);
      expect(g.stoppedAtEos).toBe(false);
      // Streamed (the tokenizer's byte-fallback pieces included): the texts grow to the answer.
      const texts: string[] = [];
      expect(await vlm.answer(png, c.question, { maxNewTokens: 16, minNewTokens: 16, onToken: (t) => texts.push(t.text) })).toBe(g.text);
      expect(texts).toHaveLength(16);
      expect(texts[15]).toBe(g.text);
      for (const t of texts) expect(g.text.startsWith(t)).toBe(true);
      expect(g.text.length).toBeGreaterThan(0);
    }
  });

  test('timeDecode() runs the same path: its tokens are the greedy ones', async () => {
    const { cases } = await readRecords(hfDir);
    const c = cases[0]!;
    const t = await vlm.timeDecode(await readPng(imagePath(c)), c.question, { steps: 3 });
    expect(t.promptLength).toBe(c.input_ids.length);
    expect(t.tokenIds).toEqual(c.greedy_token_ids.slice(0, 4));
  });

  test('a question longer than the model\'s positions is refused with one clear line', async () => {
    const long = 'what color is it '.repeat(100);
    const pixels = tf.zeros([1, ...vlm.config.imageSize, 3]) as tf.Tensor4D;
    await expect(vlm.generateFromPixels(pixels, long)).rejects.toThrow(/answer: the prompt has \d+ tokens; the model takes at most 256 positions/);
    const image = { data: new Uint8Array(64 * 64 * 4).fill(255), width: 64, height: 64 };
    await expect(vlm.answer(image, long)).rejects.toThrow(/answer: the prompt has \d+ tokens; the model takes at most 256 positions/);
    pixels.dispose();
  });
});
