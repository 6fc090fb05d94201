/**
 * The runtime on an imported Hugging Face checkpoint (fixtures/hf/llava-1.5-tiny through
 * `@tfjs-mbq/importer`): loadVlm builds the prompt through the chat template and LlavaProcessor's
 * image-token expansion, equal to transformers 5.17's recorded input_ids, and greedy decoding from
 * the processor's recorded pixel_values gives transformers' 16 greedy tokens (none is EOS).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { importCheckpoint } from '@tfjs-mbq/importer';
import { loadVlm, type Vlm } from '@tfjs-mbq/runtime';
import { nchwToNhwc, readRecords } from '../../importer/test/helpers/hf_records.js';

const HF_DIR = 'fixtures/hf/llava-1.5-tiny';
let tmp: string;
let vlm: Vlm;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hf-llava-runtime-'));
  const out = join(tmp, 'model');
  await importCheckpoint({ hfDir: HF_DIR, outDir: out });
  vlm = await loadVlm(out, { backend: 'cpu' });
});
afterAll(() => {
  vlm?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

test('prompt ids equal the processor\'s input_ids for every recorded case', async () => {
  const { cases } = await readRecords(HF_DIR);
  expect(cases.length).toBe(3);
  for (const c of cases) expect(vlm.promptIds(c.question)).toEqual(c.input_ids);
});

test('greedy decoding from the recorded pixel_values gives transformers\' 16 tokens', async () => {
  const { cases, tensors } = await readRecords(HF_DIR);
  const [h, w] = vlm.config.imageSize;
  for (const c of cases) {
    const t = await tensors(c.index);
    const pixels = tf.tensor4d(nchwToNhwc(t.pixelValues, 3, h, w), [1, h, w, 3]);
    try {
      const g = await vlm.generateFromPixels(pixels, c.question, { maxNewTokens: 16 });
      expect(g.promptLength).toBe(c.input_ids.length);
      expect(g.tokenIds).toEqual(c.greedy_token_ids);
      expect(g.stoppedAtEos).toBe(false);
    } finally {
      pixels.dispose();
    }
  }
});

test('answer() on an image says the image processor is not run yet, instead of guessing pixels', async () => {
  const image = { data: new Uint8Array(64 * 64 * 4), width: 64, height: 64 };
  await expect(vlm.answer(image, 'what color?')).rejects.toThrow('answer: images for this Hugging Face model need its image processor');
});

test('a question longer than the model\'s positions is refused with one clear line', async () => {
  const long = 'what color is it '.repeat(100);
  const pixels = tf.zeros([1, ...vlm.config.imageSize, 3]) as tf.Tensor4D;
  await expect(vlm.generateFromPixels(pixels, long)).rejects.toThrow(/answer: the prompt has \d+ tokens; the model takes at most 256 positions/);
  pixels.dispose();
});
