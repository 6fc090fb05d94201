/**
 * LLaVA-1.5 import, proven against transformers: the tiny checkpoints of fixtures/hf (transformers
 * 5.17 layout, F32; transformers-4 published layout, BF16, sharded) are imported and run with plain
 * tfjs on the processor's recorded pixel_values and input_ids, on cpu and wasm. Logits must lie
 * within 1e-4 of the largest |logit| of transformers' float32 eager logits; the 16 greedy tokens
 * must equal transformers' generate(). The `fuse` import (the converter's fused decoder ops) is held
 * to the same, and to the plain import's logits within 1e-5 of the largest |logit|.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { importCheckpoint, type ImportResult } from '@tfjs-mbq/importer';
import { analyseGraph, loadModelDir } from '@tfjs-mbq/converter';
import '@tfjs-mbq/ops'; // the fused ops as graph ops
import { greedy, loadPlain, maxDiff, nchwToNhwc, readRecords, runLogits } from './helpers/hf_records.js';

const TOLERANCE = 1e-4;
const CHECKPOINTS = ['llava-1.5-tiny', 'llava-1.5-tiny-tf4'];
const BACKENDS = ['cpu', 'wasm'] as const;

let tmp: string;
const imported = new Map<string, ImportResult>();
const fused = new Map<string, ImportResult>();

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'llava-import-'));
  for (const name of CHECKPOINTS) {
    imported.set(name, await importCheckpoint({ hfDir: join('fixtures/hf', name), outDir: join(tmp, name) }));
    fused.set(name, await importCheckpoint({ hfDir: join('fixtures/hf', name), outDir: join(tmp, `${name}-fused`), fuse: true }));
  }
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each(CHECKPOINTS)('%s', (name) => {
  const hfDir = join('fixtures/hf', name);

  it('writes mbq.json with the processor\'s image token run and the image processor settings', async () => {
    const r = imported.get(name)!;
    const { cases } = await readRecords(hfDir);
    for (const c of cases) {
      expect(r.mbq.imageTokenOffset).toBe(c.image_token_offset);
      expect(r.mbq.imageTokenCount).toBe(c.image_token_count);
      expect(c.input_ids.slice(c.image_token_offset, c.image_token_offset + c.image_token_count).every((id) => id === r.mbq.imageTokenId)).toBe(true);
    }
    expect(r.mbq).toMatchObject({ imageSize: [42, 42], tokenizer: 'hf', bosTokenId: 1, eosTokenId: 2 });
    expect(r.mbq.imageProcessor).toMatchObject({ kind: 'single', resize: { shortestEdge: 48 }, resample: 'bicubic', centerCrop: { height: 42, width: 42 }, rescaleFactor: 1 / 255 });
    const written = JSON.parse(readFileSync(join(r.outDir, 'mbq.json'), 'utf8')) as unknown;
    expect(written).toEqual(r.mbq);
  });

  it('the converter\'s graph analysis finds every decoder block with its scale groups (no per-architecture code in the converter)', async () => {
    const r = imported.get(name)!;
    const m = await loadModelDir(r.outDir);
    const a = analyseGraph(m.modelJson.modelTopology, m.weights);
    expect(a.blocks.map((b) => [b.q, b.k, b.v, b.o, b.gate, b.up, b.down])).toEqual([0, 1].map((i) =>
      ['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => `lm/layers.${i}/self_attn/${p}/MatMul`).concat(['gate_proj', 'up_proj', 'down_proj'].map((p) => `lm/layers.${i}/mlp/${p}/MatMul`))));
    // GQA (4 heads, 2 KV heads): v and o differ in shape, so no attn-out group (docs/algorithm.md §4).
    for (const b of a.blocks) {
      expect(b.groups.map((g) => [g.name, g.fold.kind])).toEqual([['attn-in', 'gamma'], ['mlp-in', 'gamma'], ['mlp-out', 'linear']]);
    }
    expect(a.otherLinears).toContain('lm/lm_head/MatMul');
    expect(a.otherLinears.filter((l) => l.startsWith('vision/')).length).toBe(1 + 6); // patch embedding + one CLIP layer (feature layer -2 of 2)
  });

  describe.each(BACKENDS)('on %s', (backend) => {
    beforeAll(async () => { await initBackend(backend); });

    it(`logits within ${TOLERANCE} of the largest |logit| and the 16 greedy tokens of transformers (cpu: first case)`, async () => {
      const r = imported.get(name)!;
      const model = await loadPlain(r.outDir);
      const { cases, tensors } = await readRecords(hfDir);
      const size = r.mbq.imageSize;
      for (const c of cases) {
        const t = await tensors(c.index);
        const pixels = nchwToNhwc(t.pixelValues, 3, size[0], size[1]);
        const logits = await runLogits(model, pixels, size, c.input_ids);
        expect(logits.length).toBe(t.logits.length);
        const { diff, scale } = maxDiff(logits, t.logits);
        process.stdout.write(`${name} ${backend} case ${c.index}: max |logit diff| ${diff.toExponential(2)} (max |logit| ${scale.toFixed(3)}, ratio ${(diff / scale).toExponential(2)})\n`);
        expect(diff).toBeLessThanOrEqual(TOLERANCE * scale);
        // Greedy decoding re-runs the whole graph per token: every case on wasm, the first on cpu (the slow backend).
        if (backend === 'wasm' || c.index === 0) {
          const vocab = c.logits_shape[2]!;
          expect(await greedy(model, pixels, size, c.input_ids, c.greedy_token_ids.length, vocab, [r.mbq.eosTokenId])).toEqual(c.greedy_token_ids);
        }
      }
      model.dispose();
      expect(tf.memory().numTensors).toBeLessThan(50);
    });

    it(`fuse: logits within ${TOLERANCE} of transformers' and 1e-5 of the plain import's (of the largest |logit|), the same greedy tokens (cpu: first case)`, async () => {
      const r = fused.get(name)!;
      expect(r.fused).toMatchObject({ attention: 2, siluGate: 2, mergedLinears: 4 });
      const [model, plain] = [await loadPlain(r.outDir), await loadPlain(imported.get(name)!.outDir)];
      const { cases, tensors } = await readRecords(hfDir);
      const size = r.mbq.imageSize;
      for (const c of cases) {
        const t = await tensors(c.index);
        const pixels = nchwToNhwc(t.pixelValues, 3, size[0], size[1]);
        const logits = await runLogits(model, pixels, size, c.input_ids);
        const hf = maxDiff(logits, t.logits);
        const own = maxDiff(logits, await runLogits(plain, pixels, size, c.input_ids));
        process.stdout.write(`${name} ${backend} case ${c.index} fused: vs transformers ${(hf.diff / hf.scale).toExponential(2)}, vs plain ${(own.diff / own.scale).toExponential(2)} of the largest |logit|\n`);
        expect(hf.diff).toBeLessThanOrEqual(TOLERANCE * hf.scale);
        expect(own.diff).toBeLessThanOrEqual(1e-5 * own.scale);
        if (backend === 'wasm' || c.index === 0) {
          expect(await greedy(model, pixels, size, c.input_ids, c.greedy_token_ids.length, c.logits_shape[2]!, [r.mbq.eosTokenId])).toEqual(c.greedy_token_ids);
        }
      }
      model.dispose();
      plain.dispose();
      expect(tf.memory().numTensors).toBeLessThan(50);
    });
  });
});
