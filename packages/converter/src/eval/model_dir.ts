/** Loads a VLM model directory (graph model + mbq.json + tokenizer.json) for evaluation. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import type { ModelJson } from '../graph/types.js';
import { WordLevelTokenizer } from './tokenizer.js';

export interface MbqLayout {
  imageTokenCount: number;
  imageTokenOffset: number;
  imageTokenId: number;
  bosTokenId: number;
  eosTokenId: number;
  padTokenId?: number;
  imageSize: [number, number];
}

export interface VlmModel {
  dir: string;
  model: GraphModel;
  layout: MbqLayout;
  tokenizer: WordLevelTokenizer;
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

export async function loadVlm(dir: string): Promise<VlmModel> {
  const layout = await readJson<MbqLayout>(join(dir, 'mbq.json'));
  for (const k of ['imageTokenCount', 'imageTokenOffset', 'imageTokenId', 'bosTokenId', 'eosTokenId'] as const) {
    if (!Number.isInteger(layout[k])) throw new Error(`${dir}/mbq.json: "${k}" must be an integer`);
  }
  if (!Array.isArray(layout.imageSize) || layout.imageSize.length !== 2) throw new Error(`${dir}/mbq.json: "imageSize" must be [H, W]`);
  const tokenizer = await WordLevelTokenizer.load(join(dir, 'tokenizer.json'));
  const model = await loadGraphModel(dirIOHandler(dir));
  return { dir, model, layout, tokenizer };
}
