/**
 * Issue 12 §4: a failed backend stops the sensitivity stage with one line saying what failed and
 * where, not later as "the caption gradient is 0": WebGPU error scopes and device.lost (a fake
 * device for each case, then lavapipe's real device rejecting a command), and non-finite
 * activations on cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { currentGpuDevice, watchDevice, type GpuDeviceLike } from '../src/sensitivity/device_watch.js';
import { ConversionError } from '../src/io/errors.js';
import { batchedSensitivity } from '../src/sensitivity/batched.js';
import { analyseGraph } from '../src/graph/analysis.js';
import { GraphExecutor } from '../src/graph/executor.js';
import { findModelIo } from '../src/graph/model_io.js';
import { loadModelDir } from '../src/io/load.js';
import { calibInputs } from '../src/calib/inputs.js';
import { loadCalibration } from '../src/calib/load.js';
import { writeSyntheticModel } from './helpers/synthetic.js';

type Filter = 'out-of-memory' | 'validation' | 'internal';

/** A device whose scopes report `errors[filter]` and that can be lost. */
function fakeDevice(errors: Partial<Record<Filter, string>>): GpuDeviceLike & { lose: (m: string) => void; depth: () => number } {
  const stack: Filter[] = [];
  let lose: (m: string) => void = () => undefined;
  const lost = new Promise<{ reason?: string; message: string }>((resolve) => { lose = (message) => resolve({ reason: 'unknown', message }); });
  return {
    lost,
    pushErrorScope: (f) => { stack.push(f); },
    popErrorScope: async () => { const f = stack.pop()!; return errors[f] ? { message: errors[f]! } : null; },
    lose: (m) => lose(m),
    depth: () => stack.length,
  };
}

async function failure(p: Promise<unknown>): Promise<ConversionError> {
  try { await p; } catch (e) { return e as ConversionError; }
  throw new Error('expected a rejection');
}

describe('watchDevice (fake device)', () => {
  beforeAll(async () => { await initBackend('cpu'); });
  it('names an out-of-memory device and the work it was doing, before the symptom the work threw', async () => {
    const d = fakeDevice({ 'out-of-memory': 'Out of memory allocating 2147483648 bytes', validation: '[Invalid CommandBuffer] is invalid due to a previous error' });
    const w = watchDevice('sensitivity', d);
    const e = await failure(w.run('block 3 (backward)', async () => { throw new Error('the caption gradient is 0'); }));
    expect(e).toBeInstanceOf(ConversionError);
    expect(e.code).toBe('BACKEND');
    expect(e.message).toMatch(/^sensitivity: the WebGPU device ran out of memory \(Out of memory allocating 2147483648 bytes\) during block 3 \(backward\) \(tfjs held [\d.]+ GiB of tensors\); no result was written$/);
    expect(d.depth()).toBe(0);
  });
  it('a lost device comes first; validation and internal errors are named too', async () => {
    const d = fakeDevice({ validation: 'bad' });
    const w = watchDevice('sensitivity', d);
    d.lose('GPU hung');
    await new Promise((r) => setImmediate(r));
    expect((await failure(w.run('block 0 (forward)', async () => 1))).message).toMatch(/^sensitivity: the WebGPU device was lost \(unknown: GPU hung\) during block 0 \(forward\)/);
    expect((await failure(watchDevice('s', fakeDevice({ validation: 'v' })).run('x', async () => 1))).message).toMatch(/^s: the WebGPU device rejected a command \(v\) during x/);
    expect((await failure(watchDevice('s', fakeDevice({ internal: 'i' })).run('x', async () => 1))).message).toMatch(/^s: the WebGPU device failed \(i\) during x/);
  });
  it('passes results and the work\'s own errors through when the device is fine, or when there is none', async () => {
    const d = fakeDevice({});
    expect(await watchDevice('s', d).run('x', async () => 42)).toBe(42);
    await expect(watchDevice('s', d).run('x', async () => { throw new Error('own'); })).rejects.toThrow(/^own$/);
    expect(d.depth()).toBe(0);
    expect(await watchDevice('s', undefined).run('x', async () => 7)).toBe(7);
  });
});

test('lavapipe: a command the device rejects inside the watched work is reported', async () => {
  await initBackend('webgpu');
  const device = currentGpuDevice() as (GpuDeviceLike & { createBuffer: (d: { size: number; usage: number }) => unknown }) | undefined;
  expect(device).toBeDefined();
  const w = watchDevice('sensitivity');
  // usage 0 is invalid: a validation error, as an invalid command buffer raises.
  const e = await failure(w.run('block 1 (backward)', async () => { device!.createBuffer({ size: 4, usage: 0 }); }));
  expect(e.message).toMatch(/^sensitivity: the WebGPU device rejected a command \(.+\) during block 1 \(backward\)/);
  // The device still works afterwards, and a clean unit passes.
  expect(await w.run('block 0 (backward)', async () => (await tf.scalar(3).data())[0])).toBe(3);
  w.dispose();
}, 120_000);

test('cpu: activations that overflow float32 stop the stage naming the block, not as a zero gradient', async () => {
  await initBackend('cpu');
  const dir = await writeSyntheticModel({ layers: 2, seed: 62 });
  try {
    const model = await loadModelDir(dir);
    const graph = model.modelJson.modelTopology;
    const analysis = analyseGraph(graph, model.weights);
    // Block 1's down_proj weight set to 3e38 (float32's largest is 3.4e38): its output overflows.
    const down = analysis.linears.get(analysis.blocks[1].down)!;
    const w = model.weights.get(down.weightConst)!;
    model.weights.set(down.weightConst, { ...w, data: new Float32Array(w.data.length).fill(3e38) });
    const calib = await loadCalibration(join(process.cwd(), 'fixtures/shapes-vqa/calib'), calibInputs(model), { samples: 2, seed: 1 });
    const exec = new GraphExecutor(graph, model.weights);
    const before = tf.memory().numTensors;
    const e = await failure(batchedSensitivity(exec, analysis, findModelIo(graph, 'model.json'), calib.samples, model.mbq.imageSize, 0, 16));
    expect(e.message).toMatch(/^sensitivity: the output of block 1 \(forward\) is not finite \(NaN or Inf\) on the cpu backend/);
    expect(e.code).toBe('BACKEND');
    expect(tf.memory().numTensors).toBe(before);
    exec.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
