/**
 * Issue 12 §4 on the Hugging Face fixtures: after `importCheckpoint`, the block-by-block sensitivity
 * pass (converter sensitivity/streamed.ts) gives the whole-model tape's gradient sums bit for bit,
 * on every architecture of fixtures/hf (cpu) and on fixtures/llava-shapes, a LLaVA trained by
 * transformers (wasm: its 4-layer CLIP tower at 64 image tokens is slow on cpu).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { importCheckpoint } from '@tfjs-mbq/importer';
import { compareOnModel } from '../../converter/test/helpers/stream_check.js';
import { CALIB, HF } from './helpers/hf_convert.js';

const scratch = mkdtempSync(join(tmpdir(), 'mbq-hf-stream-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const cases: Array<[string, 'cpu' | 'wasm', string]> = [
  ['llava-1.5-tiny', 'cpu', join(HF, 'llava-1.5-tiny')],
  ['llava-onevision-tiny', 'cpu', join(HF, 'llava-onevision-tiny')],
  ['qwen2-vl-tiny', 'cpu', join(HF, 'qwen2-vl-tiny')],
  ['llava-shapes', 'wasm', join(process.cwd(), 'fixtures/llava-shapes')],
];

test.each(cases)('%s on %s: streamed sums equal the whole-model ones', async (name, backend, hfDir) => {
  await initBackend(backend);
  const { outDir } = await importCheckpoint({ hfDir, outDir: join(scratch, name) });
  const r = await compareOnModel(outDir, CALIB, 2);
  expect(r.blocks).toBeGreaterThan(0);
  expect(r.whole.some((v) => v > 0)).toBe(true);
  expect(Array.from(r.streamed)).toEqual(Array.from(r.whole));
  expect(r.tensorsLeft).toBe(0);
}, 600_000);
