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
import { batchedSensitivity } from '../src/sensitivity/batched.js';
import { analyseGraph } from '../src/graph/analysis.js';
import { GraphExecutor } from '../src/graph/executor.js';
import { findModelIo } from '../src/graph/model_io.js';
import { loadModelDir } from '../src/io/load.js';
import { calibInputs } from '../src/calib/inputs.js';
import { loadCalibration } from '../src/calib/load.js';

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

test('progress: each pass over a block is reported as it ends, then the chunk', async () => {
  await initBackend('cpu');
  const model = await loadModelDir(synthetic);
  const graph = model.modelJson.modelTopology;
  const analysis = analyseGraph(graph, model.weights);
  const calib = await loadCalibration(CALIB, calibInputs(model), { samples: 2, seed: 3 });
  const exec = new GraphExecutor(graph, model.weights);
  const seen: string[] = [];
  await batchedSensitivity(exec, analysis, findModelIo(graph, 'model.json'), calib.samples, model.mbq.imageSize, 0, 16,
    (done, total, detail) => seen.push(`${done}/${total} ${detail ?? ''}`.trim()));
  exec.dispose();
  const step = (w: string): string => `0/2 samples 1-2: ${w}`;
  expect(seen).toEqual([
    step('the pass to the first block'), step('block 0 (forward)'), step('block 1 (forward)'), step('block 2 (forward)'),
    step('the caption loss (final norm, lm_head)'), step('block 2 (backward)'), step('block 1 (backward)'), step('block 0 (backward)'), '2/2',
  ]);
}, 120_000);
