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
  step: StepGraph;
  /** Largest |step logit - full-run logit| at the check, relative to the largest |logit|. */
  checkError: number;
  makeDecoder: () => KvCacheDecoder;
}

export interface LoadedForDecoding {
  /** The model to run: prefill + step nodes when a step graph was planned, else the prefill graph. */
  model: GraphModel;
  /** Null when the graph gets no KV cache; `note` says why. */
  kv: KvCacheSetup | null;
  note: string;
}

/** Relative tolerance of the step-vs-full check (float32 sums in another order). */
const KV_CHECK_TOLERANCE = 1e-3;

/**
 * Adds KV-cache decoding to a loaded prefill graph. The prefill model is disposed before the
 * combined one loads (so weights are never held twice); the combined graph still contains the
 * prefill, which serves re-run decoding if the step fails its check.
 */
export async function withKvCache(prefill: GraphModel, files: GraphModelFiles, logitsName: string, config: MbqConfig, vocabSize: number): Promise<LoadedForDecoding> {
  let probe: Awaited<ReturnType<typeof probeGraph>>;
  let step: StepGraph;
  try {
    probe = await probeGraph(prefill, files, logitsName, config, vocabSize);
  } catch (e) {
    return { model: prefill, kv: null, note: `probing the graph failed: ${(e as Error).message}` };
  }
  try {
    const planner = new StepGraphPlanner(probe.info, new ConstValues(files.weightSpecs, files.weightData), probe.order);
    step = planner.plan(logitsName);
    if (!step.caches.length) throw new Error('the step graph has no key/value cache (no attention over the sequence found)');
    const heavy = planner.heavyFullNodes(step);
    if (heavy.length) throw new Error(`a step would still run ${heavy.length} matmul(s) over the whole sequence (${heavy.slice(0, 3).join(', ')}${heavy.length > 3 ? ', ...' : ''})`);
  } catch (e) {
    probe.pixels.dispose();
    return { model: prefill, kv: null, note: (e as Error).message };
  }
  prefill.dispose();
  const model = new GraphModel(tf.io.fromMemory(toArtifacts(withStep(files, step))));
  try {
    await model.load();
    const makeDecoder = (): KvCacheDecoder => new KvCacheDecoder(model, logitsName, step);
    const checkError = await checkStep(makeDecoder(), probe.pixels, probe.ids, probe.lastLogits);
    if (!(checkError <= KV_CHECK_TOLERANCE)) {
      return { model, kv: null, note: `the cached step disagrees with a full run (relative error ${checkError.toExponential(2)})` };
    }
    return { model, kv: { step, checkError, makeDecoder }, note: `${step.caches.length} cached tensors; step checked against a full run (relative error ${checkError.toExponential(1)})` };
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
function withStep(files: GraphModelFiles, step: StepGraph): GraphModelFiles {
  const extra = new Int32Array(step.consts.reduce((s, c) => s + c.values.length, 0));
  let offset = 0;
  for (const c of step.consts) {
    extra.set(c.values, offset);
    offset += c.values.length;
  }
  return {
    json: { ...files.json, modelTopology: { ...files.json.modelTopology, node: [...files.json.modelTopology.node, ...step.nodes] } },
    weightSpecs: [...files.weightSpecs, ...step.consts.map((c) => ({ name: c.name, shape: c.shape, dtype: 'int32' as const }))],
    // The model's shards as they are (no copy of the weights), the step's constants after them.
    weightData: extra.length ? [...files.weightData, extra.buffer] : files.weightData,
  };
}
