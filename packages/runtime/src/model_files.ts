/** Reads a tfjs graph model (model.json + weight shards) into in-memory ModelArtifacts, by the format's one reader. */
import type * as tf from '@tensorflow/tfjs-core';
import { readModelJson, readWeightShards, type ModelJson, type ReadWeightsOptions } from '@tfjs-mbq/format';
import type { ModelSource } from './sources.js';

export type { NodeDefJson, WeightEntryJson } from '@tfjs-mbq/format';
export type GraphModelJson = ModelJson;

export interface GraphModelFiles {
  json: GraphModelJson;
  weightSpecs: tf.io.WeightsManifestEntry[];
  /**
   * The shards' bytes in manifest order, one buffer each (tfjs reads a list as one; never joined,
   * so a model over V8's typed-array limit loads).
   */
  weightData: ArrayBuffer[];
}

/**
 * model.json (validated: names the file and the entry) and its shards (inside the model's
 * location, each read no further than the manifest declares), before tfjs sees the model.
 */
export async function readGraphModel(source: ModelSource, options: ReadWeightsOptions = {}): Promise<GraphModelFiles> {
  const files = await source.source();
  const { modelJson, where } = await readModelJson(files);
  const groups = await readWeightShards(files, modelJson, where, options);
  const weightData = groups.flatMap((g) => g.parts).filter((p) => p.byteLength > 0).map(wholeBuffer);
  const weightSpecs = modelJson.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[];
  return { json: modelJson, weightSpecs, weightData };
}

/** The bytes as an ArrayBuffer of their own (no copy when they already fill one). */
function wholeBuffer(p: Uint8Array): ArrayBuffer {
  return p.byteOffset === 0 && p.byteLength === p.buffer.byteLength ? p.buffer as ArrayBuffer : p.slice().buffer as ArrayBuffer;
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
