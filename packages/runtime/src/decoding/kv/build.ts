/**
 * Builds KV-cache decoding for a loaded prefill graph: probe shapes, plan the step graph, load
 * prefill + step as one graph model (they share weights), and check one step against a full run.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphModel } from '@tensorflow/tfjs-converter';
import { toArtifacts, type GraphModelFiles } from '../../model_files.js';
import type { MbqConfig } from '../../mbq_config.js';
import { ConstValues } from './const_values.js';
import { KvCacheDecoder } from './kv_decoder.js';
import { probeGraph } from './probe.js';
import { StepGraphPlanner, type StepGraph } from './step_graph.js';

export interface KvCacheSetup {
  /** Prefill and step nodes in one model (the prefill part alone still serves re-run decoding). */
  model: GraphModel;
  step: StepGraph;
  /** Largest |step logit - full-run logit| at the check, relative to the largest |logit|. */
  checkError: number;
  makeDecoder: () => KvCacheDecoder;
}

/** Relative tolerance of the step-vs-full check (float32 sums in another order). */
export const KV_CHECK_TOLERANCE = 1e-3;

export async function setupKvCache(prefill: GraphModel, files: GraphModelFiles, logitsName: string, config: MbqConfig, vocabSize: number): Promise<KvCacheSetup> {
  const probe = await probeGraph(prefill, files, logitsName, config, vocabSize);
  let model: GraphModel | null = null;
  try {
    const planner = new StepGraphPlanner(probe.info, new ConstValues(files.weightSpecs, files.weightData), probe.order);
    const step = planner.plan(logitsName);
    if (!step.caches.length) throw new Error('the step graph has no key/value cache (no attention over the sequence found)');
    const heavy = planner.heavyFullNodes(step);
    if (heavy.length) throw new Error(`a step would still run ${heavy.length} matmul(s) over the whole sequence (${heavy.slice(0, 3).join(', ')}${heavy.length > 3 ? ', ...' : ''})`);
    model = new GraphModel(tf.io.fromMemory(toArtifacts(withStep(files, step))));
    await model.load();
    const loaded = model;
    const makeDecoder = (): KvCacheDecoder => new KvCacheDecoder(loaded, logitsName, step);
    const checkError = await checkStep(makeDecoder(), probe.pixels, probe.ids, probe.lastLogits);
    if (!(checkError <= KV_CHECK_TOLERANCE)) throw new Error(`the cached step disagrees with a full run (relative error ${checkError.toExponential(2)})`);
    return { model, step, checkError, makeDecoder };
  } catch (e) {
    model?.dispose();
    throw e;
  } finally {
    probe.pixels.dispose();
  }
}

/** Prefill on ids[:-1], one step with ids[-1]; compares its logits with a full run on ids. */
async function checkStep(decoder: KvCacheDecoder, pixels: tf.Tensor4D, ids: number[], expected: Float32Array): Promise<number> {
  try {
    (await decoder.prefillLogits(pixels, ids.slice(0, -1))).dispose();
    const logits = await decoder.stepLogits(ids[ids.length - 1]!);
    const got = (await logits.data()) as Float32Array;
    logits.dispose();
    if (got.length !== expected.length) return Infinity;
    let err = 0;
    let scale = 1e-6;
    for (let i = 0; i < got.length; i++) {
      err = Math.max(err, Math.abs(got[i]! - expected[i]!));
      scale = Math.max(scale, Math.abs(expected[i]!));
    }
    return err / scale;
  } finally {
    decoder.dispose();
  }
}

/** The model files with the step nodes and their int32 constants appended. */
export function withStep(files: GraphModelFiles, step: StepGraph): GraphModelFiles {
  const extra = step.consts.reduce((s, c) => s + c.values.length * 4, 0);
  const data = new Uint8Array(files.weightData.byteLength + extra);
  data.set(new Uint8Array(files.weightData), 0);
  let offset = files.weightData.byteLength;
  for (const c of step.consts) {
    data.set(new Uint8Array(Int32Array.from(c.values).buffer), offset);
    offset += c.values.length * 4;
  }
  return {
    json: { ...files.json, modelTopology: { ...files.json.modelTopology, node: [...files.json.modelTopology.node, ...step.nodes] } },
    weightSpecs: [...files.weightSpecs, ...step.consts.map((c) => ({ name: c.name, shape: c.shape, dtype: 'int32' as const }))],
    weightData: data.buffer,
  };
}
