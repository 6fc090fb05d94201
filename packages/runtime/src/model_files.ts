/** Reads a tfjs graph model (model.json + weight shards) into in-memory ModelArtifacts. */
import type * as tf from '@tensorflow/tfjs-core';
import type { ModelSource } from './sources.js';

export interface WeightEntryJson { name: string; shape: number[]; dtype: string; quantization?: unknown }
export interface NodeDefJson { name: string; op: string; input?: string[]; attr?: Record<string, unknown>; device?: string }
export interface GraphModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: { node: NodeDefJson[]; library?: unknown; versions?: unknown };
  weightsManifest: Array<{ paths: string[]; weights: WeightEntryJson[] }>;
  signature?: unknown;
  userDefinedMetadata?: Record<string, unknown>;
}

export interface GraphModelFiles {
  json: GraphModelJson;
  weightSpecs: tf.io.WeightsManifestEntry[];
  /** All shards concatenated in manifest order. */
  weightData: ArrayBuffer;
}

export async function readGraphModel(source: ModelSource, file = 'model.json'): Promise<GraphModelFiles> {
  const json = await source.json<GraphModelJson>(file);
  if (json.format !== undefined && json.format !== 'graph-model') {
    throw new Error(`${file}: format '${json.format}' is not a tfjs graph model ('graph-model')`);
  }
  if (!json.modelTopology || !Array.isArray(json.modelTopology.node) || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${file}: needs 'modelTopology.node' and 'weightsManifest'`);
  }
  const paths = json.weightsManifest.flatMap((g) => g.paths);
  const shards = await Promise.all(paths.map((p) => source.bytes(p)));
  const total = shards.reduce((s, b) => s + b.byteLength, 0);
  const all = new Uint8Array(total);
  let offset = 0;
  for (const b of shards) { all.set(b, offset); offset += b.byteLength; }
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[];
  return { json, weightSpecs, weightData: all.buffer };
}

export function toArtifacts(files: GraphModelFiles): tf.io.ModelArtifacts {
  return {
    modelTopology: files.json.modelTopology as unknown as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs: files.weightSpecs,
    weightData: files.weightData,
    format: files.json.format,
    generatedBy: files.json.generatedBy,
    convertedBy: files.json.convertedBy ?? undefined,
    signature: files.json.signature as object | undefined,
    userDefinedMetadata: files.json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
  };
}
