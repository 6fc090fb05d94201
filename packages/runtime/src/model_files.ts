/** Reads a tfjs graph model (model.json + weight shards) into in-memory ModelArtifacts, by the format's one reader. */
import type * as tf from '@tensorflow/tfjs-core';
import { concatBytes, readGraphModel as readModelFiles, type ModelJson, type WeightReadProgress } from '@tfjs-mbq/format';
import type { ModelSource } from './sources.js';

export type { NodeDefJson, WeightEntryJson } from '@tfjs-mbq/format';
export type GraphModelJson = ModelJson;

export interface GraphModelFiles {
  json: GraphModelJson;
  weightSpecs: tf.io.WeightsManifestEntry[];
  /** All shards concatenated in manifest order. */
  weightData: ArrayBuffer;
}

/**
 * model.json (validated: names the file and the entry) and its shards (inside the model's
 * location, each read no further than the manifest declares), before tfjs sees the model.
 */
export async function readGraphModel(source: ModelSource, onProgress?: (p: WeightReadProgress) => void): Promise<GraphModelFiles> {
  const { modelJson, groups } = await readModelFiles(await source.source(), { onProgress });
  const all = concatBytes(groups.map((g) => g.bytes));
  const weightSpecs = modelJson.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[];
  return { json: modelJson, weightSpecs, weightData: all.buffer as ArrayBuffer };
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
