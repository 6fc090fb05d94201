/**
 * Issue 12 §4: whole-model passes over runs of samples (CalibRun, memoryLimits.logitsPassBytes)
 * when the batch's logits [B, S, vocab] would be too large, the float reference logits then on the
 * host (in a scratch file above memoryLimits.spillAboveBytes). The passes feed only the checks
 * (float reference, rotation and fold drift, evaluation), never the search: the weights a conversion
 * writes are the same bytes. On cpu each sample's logits are the one-pass rows bit for bit; on wasm
 * (XNNPACK tiles a matmul by its row count) they may differ from them by float32 rounding, and the
 * evaluation figures with them, deterministically.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { configVocabSize } from '@tfjs-mbq/format';
import { convert } from '../src/convert.js';
import { CalibRun } from '../src/pipeline/calib_run.js';
import { cloneGraph } from '../src/graph/fold.js';
import { findModelIo } from '../src/graph/model_io.js';
import { copyWeights } from '../src/io/lazy_weights.js';
import { loadModelDir } from '../src/io/load.js';
import { calibInputs } from '../src/calib/inputs.js';
import { loadCalibration } from '../src/calib/load.js';
import { makeBatch } from '../src/calib/batch.js';
import { padTokenId } from '../src/pipeline/calibrate.js';
import { DEFAULT_MEMORY_LIMITS, passSamples } from '../src/memory_limits.js';
import { observeCleanup } from '../src/io/cleanup_observer.js';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');
const FIXTURE = join(process.cwd(), 'fixtures/tiny-vlm');

test('samples per pass: all of them when their logits fit (or the vocabulary is unknown), else as many as fit, at least one', () => {
  expect(passSamples(128, 650, 32064, DEFAULT_MEMORY_LIMITS.logitsPassBytes)).toBe(25);
  expect(passSamples(20, 650, 32064, DEFAULT_MEMORY_LIMITS.logitsPassBytes)).toBe(20);
  expect(passSamples(128, 650, undefined, 0)).toBe(128);
  expect(passSamples(5, 10, 100, 0)).toBe(1);
});

describe.each([['cpu', 0], ['wasm', 1e-6]] as const)('on %s', (backend, tolerance) => {
  beforeAll(async () => { await initBackend(backend); });

  test(`one sample per pass: the float caption loss, the drift and the float logits equal one pass's ${tolerance ? 'to float32 rounding' : 'bit for bit'}; the device holds no [B, S, V] reference`, async () => {
    const model = await loadModelDir(FIXTURE);
    const calib = await loadCalibration(CALIB, calibInputs(model), { samples: 3, seed: 2 });
    const batch = makeBatch(calib.samples, model.mbq.imageSize, padTokenId(model));
    const io = findModelIo(model.modelJson.modelTopology, 'model.json');
    const vocab = configVocabSize(model.config)!;
    const state = () => ({ graph: cloneGraph(model.modelJson.modelTopology), weights: copyWeights(model.weights) });
    const staged: string[] = [];
    observeCleanup({ staged: (d) => staged.push(d), unstaged: () => undefined, enterCommit: () => true, leaveCommit: () => undefined });
    const one = new CalibRun(state(), batch, io, vocab);
    const each = new CalibRun(state(), batch, io, vocab, { ...DEFAULT_MEMORY_LIMITS, logitsPassBytes: 0, spillAboveBytes: 0 });
    try {
      expect(one.passSize).toBe(3);
      expect(each.passSize).toBe(1);
      const before = tf.memory().numBytes;
      const lossEach = await each.floatReference();
      // The reference stays off the device: what the run holds is its feeds, far less than B·S·V floats.
      expect(tf.memory().numBytes - before).toBeLessThan(batch.batch * batch.seqLen * vocab * 4 / 4);
      expect(staged.filter((d) => d.includes('tfjs-mbq-scratch-'))).toHaveLength(1);
      const lossOne = await one.floatReference();
      expect(Number.isFinite(lossOne) && lossOne > 0).toBe(true);
      // The loss is a mean of log-probabilities near 0 (cancellation): 10x the logits' relative tolerance.
      expect(Math.abs(lossEach - lossOne)).toBeLessThanOrEqual(10 * tolerance * lossOne);
      // Each pass's float logits are the one-pass logits' rows of its sample.
      const whole: number[] = [];
      const parts: number[] = [];
      await one.eachPass(undefined, async (_now, float) => { whole.push(...await float.data()); });
      await each.eachPass(undefined, async (_now, float) => { parts.push(...await float.data()); });
      const scale = Math.max(...whole.map(Math.abs));
      expect(parts.length).toBe(whole.length);
      if (tolerance === 0) expect(parts).toEqual(whole);
      else parts.forEach((v, i) => expect(Math.abs(v - whole[i])).toBeLessThanOrEqual(tolerance * scale));
      // Deterministic: the model run pass by pass again gives the stored reference exactly.
      expect(await each.driftFromFloat()).toBe(0);
    } finally {
      one.dispose();
      each.dispose();
      observeCleanup(undefined);
    }
    expect(staged.some((d) => existsSync(d))).toBe(false);
  }, 300_000);
});

test('a conversion pass by pass, everything spilled: the same weights and model bytes as the default, the evaluation figures to float32 rounding (wasm, MBQ W3)', async () => {
  await initBackend('wasm');
  const root = mkdtempSync(join(tmpdir(), 'mbq-passes-'));
  try {
    const run = (name: string, memoryLimits?: object) => convert({
      modelDir: FIXTURE, calibDir: CALIB, outDir: join(root, name), samples: 3, seed: 1, gridSize: 4, memoryLimits,
    });
    await run('default');
    await run('passes', { logitsPassBytes: 0, headLogitsBytes: 0, spillAboveBytes: 0 });
    const files = readdirSync(join(root, 'default')).sort();
    expect(readdirSync(join(root, 'passes')).sort()).toEqual(files);
    const read = (name: string, f: string) => readFileSync(join(root, name, f));
    for (const f of files.filter((f) => f !== 'quantization.json' && f !== 'report.html')) expect(read('passes', f).equals(read('default', f))).toBe(true);
    const [a, b] = ['passes', 'default'].map((n) => JSON.parse(read(n, 'quantization.json').toString()) as { evaluation: Record<string, number> });
    expect({ ...a, evaluation: undefined }).toEqual({ ...b, evaluation: undefined });
    for (const [k, v] of Object.entries(b.evaluation)) expect(Math.abs(a.evaluation[k] - v)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}, 300_000);
