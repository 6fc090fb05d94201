/**
 * The runtime on imported LLaVA-OneVision and Qwen2-VL checkpoints (fixtures/hf): loadVlm builds the
 * processor's prompt ids, decodes with its KV cache (the step graph the runtime derives; for
 * Qwen2-VL it reads the multimodal RoPE row of each new index, so positions after the image go on
 * by get_rope_index's max + 1 rule), and gives transformers' 16 greedy tokens from the recorded
 * pixel_values (laid out as mbq.json's imageInput says), and from the recorded PNG through answer()
 * (mbq.json's image processor, then that layout; the prompt from what the processor made).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Jimp } from 'jimp';
import { importCheckpoint, type ImportResult } from '@tfjs-mbq/importer';
import { loadVlm } from '@tfjs-mbq/runtime';
import { readRecords } from '../../importer/test/helpers/hf_records.js';
import { recordedGraphPixels } from '../../importer/test/helpers/import_fidelity.js';

const CASES: Array<{ checkpoint: string; imageSize?: [number, number] }> = [
  { checkpoint: 'llava-onevision-tiny' },
  { checkpoint: 'qwen2-vl-tiny', imageSize: [84, 84] },
];

let tmp: string;
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'hf-runtime-')); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test.each(CASES)('$checkpoint: prompt ids and KV-cache greedy decoding equal transformers\'', async ({ checkpoint, imageSize }) => {
  const hfDir = join('fixtures/hf', checkpoint);
  const imported: ImportResult = await importCheckpoint({ hfDir, outDir: join(tmp, checkpoint), imageSize });
  const vlm = await loadVlm(imported.outDir, { backend: 'wasm' });
  try {
    expect(vlm.decoding).toBe('kv-cache');
    const { cases, tensors } = await readRecords(hfDir);
    const [h, w] = vlm.config.imageSize;
    for (const c of cases) {
      expect(vlm.promptIds(c.question)).toEqual(c.input_ids);
      const pixels = tf.tensor4d(recordedGraphPixels(imported, c, (await tensors(c.index)).pixelValues), [1, h, w, 3]);
      try {
        const g = await vlm.generateFromPixels(pixels, c.question, { maxNewTokens: 16 });
        expect(g.tokenIds).toEqual(c.greedy_token_ids);
      } finally {
        pixels.dispose();
      }
      const png = await Jimp.read(readFileSync((c as unknown as { image: string }).image));
      const g = await vlm.generate(png, c.question, { maxNewTokens: 16, minNewTokens: 16 }); // transformers masked EOS (min_new_tokens)
      expect(g.promptLength).toBe(c.input_ids.length);
      expect(g.tokenIds).toEqual(c.greedy_token_ids);
    }
  } finally {
    vlm.dispose();
  }
});

test.each(CASES)('$checkpoint: an image the graph\'s fixed mode does not take as it is is resized to it, as calibration does, and answered', async ({ checkpoint, imageSize }) => {
  const hfDir = join('fixtures/hf', checkpoint);
  const imported = await importCheckpoint({ hfDir, outDir: join(tmp, `${checkpoint}-fit`), imageSize });
  const vlm = await loadVlm(imported.outDir, { backend: 'wasm' });
  try {
    const { cases } = await readRecords(hfDir);
    const c = cases[0]!;
    // A wide photo (200x90): Qwen2-VL's processor would make another grid, OneVision's another tile layout.
    const wide = (await Jimp.read(readFileSync((c as unknown as { image: string }).image))).resize({ w: 200, h: 90 });
    const img = vlm.inputs.image(wide.bitmap, 'test');
    // Qwen2-VL's smart_resize makes another grid, OneVision's unpadding another feature count.
    expect(img.resizedFrom).toEqual([90, 200]);
    expect(img.shape).toEqual([1, ...vlm.config.imageSize, 3]);
    // The prompt is the processor's for the image the graph takes: the records' ids (same grid / layout).
    expect(vlm.inputs.prompt(c.question, img.processed, 'test')).toEqual(c.input_ids);
    const pixels = tf.tensor4d(img.pixels, img.shape);
    try {
      const fromPixels = await vlm.generateFromPixels(pixels, c.question, { maxNewTokens: 4 });
      const g = await vlm.generate(wide.bitmap, c.question, { maxNewTokens: 4 });
      expect(g.promptLength).toBe(c.input_ids.length);
      expect(g.tokenIds).toEqual(fromPixels.tokenIds);
    } finally {
      pixels.dispose();
    }
  } finally {
    vlm.dispose();
  }
});
