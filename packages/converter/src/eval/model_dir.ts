/** Loads a VLM model directory (graph model + mbq.json + tokenizer.json) for evaluation. */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import type { ModelJson } from '../graph/types.js';
import { GraphExecutor } from '../graph/executor.js';
import type { WordLevelTokenizer } from '@tfjs-mbq/format';
import { modelArtifacts } from '../io/artifacts.js';
import { loadModelDir, type MbqJson } from '../io/load.js';
import { loadEvalTokenizer } from './tokenizer.js';

/** Where the image tokens sit and which ids are special: mbq.json, as the format defines it. */
export type MbqLayout = MbqJson;

/**
 * How the graph runs: 'graph-model' is plain tf.loadGraphModel (custom ops through
 * tf.registerOp); 'executor' is the converter's GraphExecutor, which runs linears as 2-D
 * matmuls (several times faster on wasm, whose broadcast batched matmul is slow).
 */
export type EvalEngine = 'graph-model' | 'executor';
export const EVAL_ENGINES: readonly EvalEngine[] = ['graph-model', 'executor'];

export interface VlmModel {
  dir: string;
  engine: EvalEngine;
  /** logits [B, S, V] for pixel_values [B, H, W, 3] and input_ids [B, S]. */
  run(pixels: tf.Tensor4D, ids: tf.Tensor2D): tf.Tensor;
  layout: MbqLayout;
  tokenizer: WordLevelTokenizer;
  dispose(): void;
}

export async function loadVlm(dir: string, engine: EvalEngine = 'graph-model'): Promise<VlmModel> {
  if (engine !== 'graph-model' && engine !== 'executor') throw new Error(`eval: unknown engine '${String(engine)}' (expected ${EVAL_ENGINES.join(' or ')})`);
  // One read of the directory through the format's reader, for either engine.
  const loaded = await loadModelDir(dir, { checkFinite: false });
  const layout = loaded.mbq;
  const tokenizer = await loadEvalTokenizer(join(dir, 'tokenizer.json'));
  if (engine === 'executor') {
    const exec = new GraphExecutor(loaded.modelJson.modelTopology, loaded.weights);
    exec.checkSupported();
    const output = outputName(loaded.modelJson);
    return {
      dir,
      engine,
      layout,
      tokenizer,
      run: (pixels, ids) => exec.execute({ pixel_values: pixels, input_ids: ids }, [output])[0]!,
      dispose: () => exec.dispose(),
    };
  }
  const model: GraphModel = await loadGraphModel(tf.io.fromMemory(modelArtifacts(loaded.modelJson, loaded.weights)));
  return {
    dir,
    engine,
    layout,
    tokenizer,
    run: (pixels, ids) => {
      const out = model.execute({ pixel_values: pixels, input_ids: ids });
      return Array.isArray(out) ? out[0]! : out;
    },
    dispose: () => model.dispose(),
  };
}

/** The node named `logits`, else the only node nothing reads. */
function outputName(json: ModelJson): string {
  const nodes = json.modelTopology.node;
  if (nodes.some((n) => n.name === 'logits')) return 'logits';
  const read = new Set(nodes.flatMap((n) => (n.input ?? []).map((i) => i.replace(/^\^/, '').replace(/:\d+$/, ''))));
  const sinks = nodes.filter((n) => !read.has(n.name) && n.op !== 'Const');
  if (sinks.length !== 1) throw new Error(`model.json: cannot tell the output node (no 'logits'; sinks: ${sinks.map((n) => n.name).join(', ')})`);
  return sinks[0]!.name;
}
