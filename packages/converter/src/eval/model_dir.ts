/** Loads a VLM model directory (graph model + mbq.json + tokenizer.json) for evaluation. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import type { ModelJson } from '../graph/types.js';
import { GraphExecutor } from '../graph/executor.js';
import { loadModelDir } from '../io/load.js';
import type { WordLevelTokenizer } from '@tfjs-mbq/format';
import { loadEvalTokenizer } from './tokenizer.js';

export interface MbqLayout {
  imageTokenCount: number;
  imageTokenOffset: number;
  imageTokenId: number;
  bosTokenId: number;
  eosTokenId: number;
  padTokenId?: number;
  imageSize: [number, number];
}

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

async function readJson<T>(file: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (e) {
    throw new Error(`${file}: cannot read JSON: ${(e as Error).message}`);
  }
}

/** An IOHandler over a directory on disk (tfjs-core has no file:// loader without tfjs-node). */
export function dirIOHandler(dir: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const json = await readJson<ModelJson>(join(dir, 'model.json'));
      if (json.format !== 'graph-model') throw new Error(`${dir}/model.json: format is '${String(json.format)}', expected 'graph-model'`);
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest) {
        specs.push(...(group.weights as tf.io.WeightsManifestEntry[]));
        for (const p of group.paths) {
          try {
            buffers.push(await readFile(join(dir, p)));
          } catch (e) {
            throw new Error(`${dir}/model.json: weight shard '${p}' cannot be read: ${(e as Error).message}`);
          }
        }
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology as unknown as tf.io.ModelArtifacts['modelTopology'],
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        signature: json.signature as tf.io.ModelArtifacts['signature'],
        userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

export async function loadVlm(dir: string, engine: EvalEngine = 'graph-model'): Promise<VlmModel> {
  const layout = await readJson<MbqLayout>(join(dir, 'mbq.json'));
  for (const k of ['imageTokenCount', 'imageTokenOffset', 'imageTokenId', 'bosTokenId', 'eosTokenId'] as const) {
    if (!Number.isInteger(layout[k])) throw new Error(`${dir}/mbq.json: "${k}" must be an integer`);
  }
  if (!Array.isArray(layout.imageSize) || layout.imageSize.length !== 2) throw new Error(`${dir}/mbq.json: "imageSize" must be [H, W]`);
  const tokenizer = await loadEvalTokenizer(join(dir, 'tokenizer.json'));
  if (engine === 'executor') {
    const loaded = await loadModelDir(dir);
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
  if (engine !== 'graph-model') throw new Error(`eval: unknown engine '${String(engine)}' (expected ${EVAL_ENGINES.join(' or ')})`);
  const model: GraphModel = await loadGraphModel(dirIOHandler(dir));
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
