/**
 * Issue 12 §4: the sensitivity pass block by block with recomputation (sensitivity/streamed.ts)
 * gives the whole-model tape's gradient sums bit for bit (same kernels, same order of
 * accumulation) on cpu, wasm and webgpu (lavapipe), on the trained fixture and on synthetic models; the Hugging Face fixtures: packages/cli/test/hf_sensitivity_stream.test.ts.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { writeSyntheticModel } from './helpers/synthetic.js';
import { compareOnModel } from './helpers/stream_check.js';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');
const FIXTURE = join(process.cwd(), 'fixtures/tiny-vlm');
let synthetic: string;

beforeAll(async () => { synthetic = await writeSyntheticModel({ layers: 3, seed: 61, randomGammas: true }); });
afterAll(() => rmSync(synthetic, { recursive: true, force: true }));

describe.each(['cpu', 'wasm'] as const)('on %s: bit for bit', (backend) => {
  beforeAll(async () => { await initBackend(backend); });
  test.each([['synthetic, 3 blocks', () => synthetic], ['fixtures/tiny-vlm', () => FIXTURE]])('%s', async (_name, dir) => {
    const r = await compareOnModel(dir(), CALIB, 2);
    expect(r.streamed.length).toBe(r.blocks * 2 * 2 * 2);
    expect(r.whole.some((v) => v > 0)).toBe(true);
    expect(Array.from(r.streamed)).toEqual(Array.from(r.whole));
    expect(r.tensorsLeft).toBe(0);
  }, 300_000);
});

test('on webgpu (lavapipe): bit for bit', async () => {
  await initBackend('webgpu');
  const r = await compareOnModel(synthetic, CALIB, 2);
  expect(r.whole.some((v) => v > 0)).toBe(true);
  expect(Array.from(r.streamed)).toEqual(Array.from(r.whole));
  expect(r.tensorsLeft).toBe(0);
}, 300_000);
