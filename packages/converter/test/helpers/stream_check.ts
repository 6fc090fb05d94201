/**
 * Runs the block-by-block sensitivity pass and the whole-model one on the same calibration chunk
 * of a model directory and returns both chunk sums (sensitivity_stream tests, converter and cli).
 */
import * as tf from '@tensorflow/tfjs-core';
import { analyseGraph } from '../../src/graph/analysis.js';
import { GraphExecutor } from '../../src/graph/executor.js';
import { findModelIo } from '../../src/graph/model_io.js';
import { loadModelDir } from '../../src/io/load.js';
import { calibInputs } from '../../src/calib/inputs.js';
import { loadCalibration } from '../../src/calib/load.js';
import { batchFeeds, makeBatch } from '../../src/calib/batch.js';
import { padTokenId } from '../../src/pipeline/calibrate.js';
import { ensureGradients } from '../../src/sensitivity/gradients.js';
import { streamedSiteSums } from '../../src/sensitivity/streamed.js';
import { watchDevice } from '../../src/sensitivity/device_watch.js';
import type { MemoryLimits } from '../../src/memory_limits.js';
import { wholeModelSiteSums } from './whole_model_sensitivity.js';

export interface StreamComparison { streamed: Float32Array; whole: Float32Array; blocks: number; tensorsLeft: number }

export async function compareOnModel(modelDir: string, calibDir: string, samples: number, seed = 3, memory?: MemoryLimits): Promise<StreamComparison> {
  ensureGradients();
  const model = await loadModelDir(modelDir);
  const graph = model.modelJson.modelTopology;
  const analysis = analyseGraph(graph, model.weights);
  const io = findModelIo(graph, 'model.json');
  const calib = await loadCalibration(calibDir, calibInputs(model), { samples, seed });
  const batch = makeBatch(calib.samples, model.mbq.imageSize, padTokenId(model));
  const exec = new GraphExecutor(graph, model.weights);
  const before = tf.memory().numTensors;
  const feeds = batchFeeds(batch);
  const chunk = { feeds: new Map<string, tf.Tensor>([[io.inputIds, feeds.input_ids], [io.pixelValues, feeds.pixel_values]]), samples: calib.samples, seqLen: batch.seqLen };
  const watch = watchDevice('sensitivity');
  try {
    const streamed = await streamedSiteSums(exec, analysis, io, chunk, watch, memory);
    const whole = await wholeModelSiteSums(exec, analysis, io, chunk);
    tf.dispose([feeds.input_ids, feeds.pixel_values]);
    return { streamed, whole, blocks: analysis.blocks.length, tensorsLeft: tf.memory().numTensors - before };
  } finally {
    watch.dispose();
    exec.dispose();
  }
}
