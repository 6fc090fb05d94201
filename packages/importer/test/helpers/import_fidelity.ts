/**
 * The fidelity suite of an imported fixtures/hf checkpoint: imported with `importCheckpoint`, run
 * with plain tfjs on transformers' recorded pixel_values (laid out by the format package's
 * graphPixelValues, as mbq.json's imageInput says) and input_ids, on cpu and wasm: logits within
 * `tolerance` of the largest |logit| of transformers' float32 eager logits, and the 16 greedy tokens
 * of transformers' generate(). The `fuse` import (the converter's fused decoder ops) is held to the
 * same, and to the unfused import's logits within float rounding.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { FUSED_OPS, graphPixelValues, MBQ_ADD_RMS_NORM_OP, MBQ_ATTENTION_OP, MBQ_RMS_NORM_OP, MBQ_SILU_GATE_OP, type ModelJson, type PreprocessedImage } from '@tfjs-mbq/format';
import '@tfjs-mbq/ops'; // the fused ops as graph ops
import { initBackend } from '@tfjs-mbq/ops/backends';
import { importCheckpoint, type ImportResult } from '@tfjs-mbq/importer';
import { analyseGraph, loadModelDir } from '@tfjs-mbq/converter';
import { greedy, loadPlain, maxDiff, readRecords, runLogits, type RecordCase } from './hf_records.js';

export const BACKENDS = ['cpu', 'wasm'] as const;

/** The graph's pixel_values for a recorded case. */
export function recordedGraphPixels(r: ImportResult, c: RecordCase, pixelValues: Float32Array): Float32Array {
  const g = c.image_grid_thw?.[0];
  const pre: PreprocessedImage = { pixelValues, shape: c.pixel_values_shape, imageGridThw: g ? [g[0]!, g[1]!, g[2]!] : undefined };
  const p = r.mbq.imageProcessor;
  const { data, shape } = graphPixelValues(pre, r.mbq.imageInput, p.kind === 'qwen2-vl' ? p : undefined);
  expect(shape.slice(1, 3)).toEqual(r.mbq.imageSize);
  return data;
}

export interface FidelityOptions {
  checkpoint: string;
  /** importCheckpoint's imageSize (Qwen2-VL: the recorded resized size). */
  imageSize?: [number, number];
  tolerance: number;
  /** Extra checks on the import result (mbq.json). */
  checkImport: (r: ImportResult) => void | Promise<void>;
}

export function describeImportFidelity(o: FidelityOptions): void {
  const hfDir = join('fixtures/hf', o.checkpoint);
  let tmp: string;
  let imported: ImportResult;
  let fused: ImportResult;
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), `${o.checkpoint}-`));
    imported = await importCheckpoint({ hfDir, outDir: join(tmp, o.checkpoint), imageSize: o.imageSize });
    fused = await importCheckpoint({ hfDir, outDir: join(tmp, `${o.checkpoint}-fused`), imageSize: o.imageSize, fuse: true });
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('writes mbq.json with the processor\'s image token run of every recorded case', async () => {
    const { cases } = await readRecords(hfDir);
    for (const c of cases) {
      expect(imported.mbq.imageTokenOffset).toBe(c.image_token_offset);
      expect(imported.mbq.imageTokenCount).toBe(c.image_token_count);
      expect(c.input_ids.slice(c.image_token_offset, c.image_token_offset + c.image_token_count).every((id) => id === imported.mbq.imageTokenId)).toBe(true);
    }
    await o.checkImport(imported);
  });

  it('the converter\'s graph analysis finds every decoder block with its scale groups (no per-architecture code in the converter)', async () => {
    const m = await loadModelDir(imported.outDir);
    const a = analyseGraph(m.modelJson.modelTopology, m.weights);
    const layers = (m.config.text_config as { num_hidden_layers: number }).num_hidden_layers;
    expect(a.blocks.map((b) => [b.q, b.k, b.v, b.o, b.gate, b.up, b.down])).toEqual(Array.from({ length: layers }, (_, i) =>
      ['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => `lm/layers.${i}/self_attn/${p}/MatMul`).concat(['gate_proj', 'up_proj', 'down_proj'].map((p) => `lm/layers.${i}/mlp/${p}/MatMul`))));
    // GQA (4 heads, 2 KV heads): v and o differ in shape, so no attn-out group (ALGORITHM.md §4); q/k/v biases leave the norm folds.
    for (const b of a.blocks) {
      expect(b.groups.map((g) => [g.name, g.fold.kind])).toEqual([['attn-in', 'gamma'], ['mlp-in', 'gamma'], ['mlp-out', 'linear']]);
    }
    expect(a.otherLinears).toContain('lm/lm_head/MatMul');
    expect(a.otherLinears.every((l) => l === 'lm/lm_head/MatMul' || !l.startsWith('lm/'))).toBe(true);
  });

  it('fuse: every decoder layer in the converter\'s fused ops (merged qkv and gate-up), the rest of the weights as the plain import stores them', async () => {
    const read = (r: ImportResult): ModelJson => JSON.parse(readFileSync(join(r.outDir, 'model.json'), 'utf8')) as ModelJson;
    const plain = read(imported), f = read(fused);
    const layers = (JSON.parse(readFileSync(join(fused.outDir, 'config.json'), 'utf8')) as { text_config: { num_hidden_layers: number } }).text_config.num_hidden_layers;
    const ops = (m: ModelJson, op: string): string[] => m.modelTopology.node.filter((n) => n.op === op).map((n) => n.name);
    expect(plain.modelTopology.node.some((n) => FUSED_OPS.includes(n.op))).toBe(false);
    expect(ops(f, MBQ_ATTENTION_OP)).toEqual(Array.from({ length: layers }, (_, i) => expect.stringMatching(new RegExp(`^lm/layers\\.${i}/`))));
    expect(ops(f, MBQ_SILU_GATE_OP)).toHaveLength(layers);
    // Every decoder norm; those after a residual add take it in (MbqAddRmsNorm): two per layer.
    expect([...ops(f, MBQ_RMS_NORM_OP), ...ops(f, MBQ_ADD_RMS_NORM_OP)].filter((n) => n.startsWith('lm/'))).toHaveLength(2 * layers + 1);
    expect(ops(f, MBQ_ADD_RMS_NORM_OP)).toHaveLength(2 * layers);
    expect(fused.fused).toMatchObject({ attention: layers, siluGate: layers, addRmsNorm: 2 * layers, mergedLinears: 2 * layers });
    expect(imported.fused).toBeUndefined();
    // The weights the fuse pass left alone keep their entries (storage included).
    const entries = (m: ModelJson): Map<string, unknown> => new Map(m.weightsManifest.flatMap((g) => g.weights).map((w) => [w.name, w]));
    const pe = entries(plain);
    const kept = [...entries(f)].filter(([name]) => pe.has(name));
    expect(kept.length).toBeGreaterThan(0);
    for (const [name, e] of kept) expect(e).toEqual(pe.get(name));
    expect(existsSync(join(fused.outDir, '.unfused'))).toBe(false);
  });

  describe.each(BACKENDS)('on %s', (backend) => {
    beforeAll(async () => { await initBackend(backend); });

    it(`logits within ${o.tolerance} of the largest |logit| and the 16 greedy tokens of transformers (cpu: greedy on the first case)`, async () => {
      const model: GraphModel = await loadPlain(imported.outDir);
      const { cases, tensors } = await readRecords(hfDir);
      const size = imported.mbq.imageSize;
      for (const c of cases) {
        const t = await tensors(c.index);
        const pixels = recordedGraphPixels(imported, c, t.pixelValues);
        const logits = await runLogits(model, pixels, size, c.input_ids);
        expect(logits.length).toBe(t.logits.length);
        const { diff, scale } = maxDiff(logits, t.logits);
        process.stdout.write(`${o.checkpoint} ${backend} case ${c.index}: max |logit diff| ${diff.toExponential(2)} (max |logit| ${scale.toFixed(3)}, ratio ${(diff / scale).toExponential(2)})\n`);
        expect(diff).toBeLessThanOrEqual(o.tolerance * scale);
        if (backend === 'wasm' || c.index === 0) {
          expect(await greedy(model, pixels, size, c.input_ids, c.greedy_token_ids.length, c.logits_shape[2]!, [imported.mbq.eosTokenId])).toEqual(c.greedy_token_ids);
        }
      }
      model.dispose();
      expect(tf.memory().numTensors).toBeLessThan(50);
    });

    it(`fuse: logits within 1e-5 of the largest |logit| of the plain import's, the same greedy tokens (cpu: greedy on the first case)`, async () => {
      const plain: GraphModel = await loadPlain(imported.outDir);
      const model: GraphModel = await loadPlain(fused.outDir);
      const { cases, tensors } = await readRecords(hfDir);
      const size = fused.mbq.imageSize;
      for (const c of cases) {
        const pixels = recordedGraphPixels(fused, c, (await tensors(c.index)).pixelValues);
        const [a, b] = [await runLogits(model, pixels, size, c.input_ids), await runLogits(plain, pixels, size, c.input_ids)];
        const { diff, scale } = maxDiff(a, b);
        process.stdout.write(`${o.checkpoint} ${backend} case ${c.index} fused vs plain: max |logit diff| ${diff.toExponential(2)} (ratio ${(diff / scale).toExponential(2)})\n`);
        expect(diff).toBeLessThanOrEqual(1e-5 * scale);
        if (backend === 'wasm' || c.index === 0) {
          expect(await greedy(model, pixels, size, c.input_ids, c.greedy_token_ids.length, c.logits_shape[2]!, [fused.mbq.eosTokenId])).toEqual(c.greedy_token_ids);
        }
      }
      model.dispose();
      plain.dispose();
      expect(tf.memory().numTensors).toBeLessThan(50);
    });
  });
}
