/** A loaded model as tfjs ModelArtifacts, so tf.loadGraphModel can run it without file:// IO. */
import type * as tf from '@tensorflow/tfjs-core';
import type { ModelJson } from '../graph/types.js';
import type { WeightMap } from './weights.js';
import { loadModelDir } from './load.js';

export function modelArtifacts(modelJson: ModelJson, weights: WeightMap): tf.io.ModelArtifacts {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const w of group.weights) {
      const data = weights.get(w.name);
      if (!data) throw new Error(`modelArtifacts: weight "${w.name}" missing`);
      specs.push({ name: w.name, shape: data.shape, dtype: data.dtype });
      parts.push(new Uint8Array(data.data.buffer, data.data.byteOffset, data.data.byteLength));
    }
  }
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const p of parts) { all.set(p, off); off += p.byteLength; }
  return {
    modelTopology: modelJson.modelTopology as unknown as tf.io.ModelArtifacts['modelTopology'],
    format: 'graph-model',
    weightSpecs: specs,
    weightData: all.buffer,
    signature: modelJson.signature,
    userDefinedMetadata: modelJson.userDefinedMetadata,
  } as tf.io.ModelArtifacts;
}

/** An IOHandler over a model directory (validated by loadModelDir), for tf.loadGraphModel in Node. */
export function dirHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const m = await loadModelDir(dir, { requireSidecars: false, checkFinite: false });
      return modelArtifacts(m.modelJson, m.weights);
    },
  };
}
