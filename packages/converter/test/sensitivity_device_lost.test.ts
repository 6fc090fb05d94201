/**
 * Issue 12 §4: a WebGPU device lost in the middle of the sensitivity stage (here destroyed by the
 * test as the first block's backward starts, on lavapipe) stops it with one line naming the lost
 * device and the block, not "the caption gradient is 0". Its own file: the device stays lost.
 */
import * as tf from '@tensorflow/tfjs-core';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { batchedSensitivity } from '../src/sensitivity/batched.js';
import { currentGpuDevice } from '../src/sensitivity/device_watch.js';
import { analyseGraph } from '../src/graph/analysis.js';
import { GraphExecutor, type ExecuteOptions } from '../src/graph/executor.js';
import { findModelIo } from '../src/graph/model_io.js';
import { loadModelDir } from '../src/io/load.js';
import { calibInputs } from '../src/calib/inputs.js';
import { loadCalibration } from '../src/calib/load.js';
import { ConversionError } from '../src/io/errors.js';
import { writeSyntheticModel } from './helpers/synthetic.js';

test('a device lost during block 1 (backward) is reported as such', async () => {
  await initBackend('webgpu');
  const device = currentGpuDevice() as unknown as { destroy: () => void } | undefined;
  expect(device).toBeDefined();
  const dir = await writeSyntheticModel({ layers: 2, seed: 63 });
  try {
    const model = await loadModelDir(dir);
    const graph = model.modelJson.modelTopology;
    const analysis = analyseGraph(graph, model.weights);
    const calib = await loadCalibration(join(process.cwd(), 'fixtures/shapes-vqa/calib'), calibInputs(model), { samples: 2, seed: 1 });
    let destroyed = false;
    // The first recomputation under a tape (probes added) is the last block's backward.
    class LosingExecutor extends GraphExecutor {
      override execute(feeds: ReadonlyMap<string, tf.Tensor> | Record<string, tf.Tensor>, fetches: readonly string[], opts: ExecuteOptions = {}): tf.Tensor[] {
        if (opts.addToOutput && !destroyed) { destroyed = true; device!.destroy(); }
        return super.execute(feeds, fetches, opts);
      }
    }
    const exec = new LosingExecutor(graph, model.weights);
    let err: unknown;
    try {
      await batchedSensitivity(exec, analysis, findModelIo(graph, 'model.json'), calib.samples, model.mbq.imageSize, 0, 16);
    } catch (e) { err = e; }
    expect(destroyed).toBe(true);
    expect(err).toBeInstanceOf(ConversionError);
    expect((err as ConversionError).code).toBe('BACKEND');
    expect((err as Error).message).toMatch(/^sensitivity: the WebGPU device was lost \(destroyed.*\) during block 1 \(backward\) \(tfjs held [\d.]+ GiB of tensors\); no result was written$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
