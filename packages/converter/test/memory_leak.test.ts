/**
 * Issue 6 §5: a conversion leaves no tensors behind: tf.memory().numTensors, numBytes and the
 * backend's buffer count return to their baseline after a conversion that succeeds, after one
 * refused early (bad calibration data), and after one that fails in the middle of the block
 * search (an exception thrown from the progress callback, as an interruption would).
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, existsSync, readdirSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { convert, quantizedOverrides, GraphExecutor, ConversionError, type ConvertOptions } from '@tfjs-mbq/converter';
import { writeSyntheticModel } from './helpers/synthetic.js';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');

function counts(): { numTensors: number; numBytes: number; numDataIds: number } {
  return { numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes, numDataIds: tf.engine().backend.numDataIds() };
}

let modelDir: string;
let smallDir: string;
const outRoot = mkdtempSync(join(tmpdir(), 'mbq-leak-out-'));
const base = (name: string): ConvertOptions => ({ modelDir, calibDir: CALIB, outDir: join(outRoot, name), samples: 2, seed: 3, gridSize: 2 });

beforeAll(async () => {
  await initBackend('cpu');
  modelDir = await writeSyntheticModel({ layers: 2, seed: 21 });
  smallDir = await writeSyntheticModel({ layers: 1, seed: 22 });
}, 60_000);

afterAll(() => {
  for (const d of [outRoot, modelDir, smallDir]) if (d) rmSync(d, { recursive: true, force: true });
});

test('a completed conversion returns numTensors, numBytes and backend buffers to baseline', async () => {
  const before = counts();
  // tfjs bytes when each block's last group is searched: a finished block's weights must not stay.
  const atBlockEnd = new Map<number, number>();
  const tensorsAtBlockEnd = new Map<number, number>();
  const r = await convert({
    ...base('ok'),
    onProgress: (e) => {
      const m = e.stage === 'search' && e.detail ? /^block (\d+) /.exec(e.detail) : null;
      if (m) { atBlockEnd.set(Number(m[1]), tf.memory().numBytes); tensorsAtBlockEnd.set(Number(m[1]), tf.memory().numTensors); }
    },
  });
  const blockWeightBytes = (4 * 64 * 64 + 3 * 64 * 128) * 4; // q, k, v, o and gate, up, down of the synthetic model
  expect(atBlockEnd.size).toBe(2);
  expect(Math.abs(atBlockEnd.get(1)! - atBlockEnd.get(0)!)).toBeLessThan(blockWeightBytes / 2);
  // Nor any of its constants (shape and slice tensors): the count is the same at each block's end.
  expect(tensorsAtBlockEnd.get(1)).toBe(tensorsAtBlockEnd.get(0));
  expect(existsSync(join(r.outDir, 'model.json'))).toBe(true);
  expect(counts()).toEqual(before);
  // Evaluating with the quantized overrides holds no weight beyond the pass (they used to be kept).
  const m = (await convert({ ...base('ok-model'), modelDir: smallDir, method: 'rtn', keepModel: true })).model!;
  const exec = new GraphExecutor(m.state.graph, m.state.weights);
  const ids = tf.tensor2d(Int32Array.from({ length: 30 }, (_, i) => (i === 0 ? 2 : 5 + (i % 20))), [1, 30], 'int32');
  const px = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 4);
  const mid = counts();
  const [q] = exec.execute({ [m.io.inputIds]: ids, [m.io.pixelValues]: px }, [m.io.logits], { nodeOverrides: quantizedOverrides(m.analysis, m.quantized), streamConsts: true });
  expect(q.shape).toEqual([1, 30, expect.any(Number)]);
  q.dispose();
  expect(counts()).toEqual(mid);
  tf.dispose([ids, px]);
  exec.dispose();
  // A second conversion (warm caches, e.g. compiled ops) must not grow either.
  await convert({ ...base('ok2'), modelDir: smallDir, method: 'awq', wBits: 4 });
  expect(counts()).toEqual(before);
}, 300_000);

test('a conversion refused for bad calibration data leaks nothing', async () => {
  const bad = mkdtempSync(join(tmpdir(), 'mbq-leak-calib-'));
  writeFileSync(join(bad, 'manifest.jsonl'), `${JSON.stringify({ image: '000.png', caption: 'zzzunknownword' })}\n`);
  copyFileSync(join(CALIB, '000.png'), join(bad, '000.png'));
  const before = counts();
  await expect(convert({ ...base('badcalib'), calibDir: bad })).rejects.toBeInstanceOf(ConversionError);
  expect(counts()).toEqual(before);
  expect(existsSync(join(outRoot, 'badcalib'))).toBe(false);
}, 120_000);

/** Interrupt at the first progress event of each stage after loading (done = 1: inside the stage's loop where it has one). */
test.each(['sensitivity', 'search', 'quantize', 'emit'] as const)('a conversion that fails during %s leaks nothing and leaves no output', async (stage) => {
  const before = counts();
  let stopped = false;
  const name = `stop-${stage}`;
  await expect(convert({
    ...base(name),
    modelDir: smallDir,
    onProgress: (e) => {
      if (!stopped && e.stage === stage) { stopped = true; throw new Error(`stop during ${stage}`); }
    },
  })).rejects.toThrow(`stop during ${stage}`);
  expect(stopped).toBe(true);
  expect(counts()).toEqual(before);
  expect(existsSync(join(outRoot, name))).toBe(false);
  expect(readdirSync(outRoot).filter((n) => n.startsWith(`.${name}`))).toEqual([]);
}, 300_000);
