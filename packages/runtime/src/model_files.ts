/** Reads a tfjs graph model (model.json + weight shards) into in-memory ModelArtifacts. */
import type * as tf from '@tensorflow/tfjs-core';
import { joinLocation, type ModelSource } from './sources.js';

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

/** Bytes per element of a manifest entry as stored in the shard; undefined for variable-size (string). */
function storedBytes(w: WeightEntryJson): number | undefined {
  const q = w.quantization as { dtype?: unknown } | undefined;
  if (q !== undefined) return q.dtype === 'uint8' ? 1 : q.dtype === 'uint16' || q.dtype === 'float16' ? 2 : undefined;
  return ({ float32: 4, int32: 4, bool: 1, complex64: 8 } as Record<string, number>)[w.dtype];
}

/**
 * Checks the parts of model.json that loading relies on, so a damaged model fails here with a
 * message naming the file and the entry, instead of deep inside tfjs.
 */
function validateManifest(json: GraphModelJson, file: string): void {
  json.weightsManifest.forEach((g, gi) => {
    const group = g as { paths?: unknown; weights?: unknown };
    if (typeof group !== 'object' || group === null || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new Error(`${file}: weightsManifest[${gi}] needs 'paths' and 'weights' arrays`);
    }
    for (const p of group.paths as unknown[]) {
      if (typeof p !== 'string' || p === '') throw new Error(`${file}: weightsManifest[${gi}].paths holds ${JSON.stringify(p)}, expected a file name`);
      // Shards live next to model.json: no absolute paths, URLs or '..' that read files elsewhere.
      if (/^([a-z][a-z0-9+.-]*:|[\\/])/i.test(p) || p.split(/[\\/]/).includes('..')) {
        throw new Error(`${file}: weight path '${p}' leaves the model's location; shard paths must be relative, without '..'`);
      }
    }
    (group.weights as unknown[]).forEach((w, wi) => {
      const e = w as Partial<WeightEntryJson> | null;
      if (typeof e !== 'object' || e === null || typeof e.name !== 'string') throw new Error(`${file}: weightsManifest[${gi}].weights[${wi}] needs a string 'name'`);
      if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) {
        throw new Error(`${file}: weight '${e.name}': shape must be non-negative integers, got ${JSON.stringify(e.shape)}`);
      }
      if (typeof e.dtype !== 'string' || !['float32', 'int32', 'bool', 'complex64', 'string'].includes(e.dtype)) {
        throw new Error(`${file}: weight '${e.name}': unsupported dtype ${JSON.stringify(e.dtype)}`);
      }
    });
  });
}

export async function readGraphModel(source: ModelSource, file = 'model.json'): Promise<GraphModelFiles> {
  const json = await source.json<GraphModelJson>(file);
  const where = joinLocation(source.location, file);
  if (typeof json !== 'object' || json === null) throw new Error(`${where}: expected a JSON object`);
  if (json.format !== undefined && json.format !== 'graph-model') {
    throw new Error(`${where}: format '${json.format}' is not a tfjs graph model ('graph-model')`);
  }
  if (!json.modelTopology || !Array.isArray(json.modelTopology.node) || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${where}: needs 'modelTopology.node' and 'weightsManifest'`);
  }
  validateManifest(json, where);
  const groups = await Promise.all(json.weightsManifest.map((g) => Promise.all(g.paths.map((p) => source.bytes(p)))));
  json.weightsManifest.forEach((g, gi) => {
    const sizes = g.weights.map(storedBytes);
    if (sizes.some((b) => b === undefined)) return; // string weights: variable size
    const expected = g.weights.reduce((acc, w, i) => acc + w.shape.reduce((a, d) => a * d, 1) * sizes[i]!, 0);
    const got = groups[gi]!.reduce((a, b) => a + b.byteLength, 0);
    if (got !== expected) {
      const shards = g.paths.map((p) => joinLocation(source.location, p)).join(', ');
      throw new Error(`${shards}: weight shards of group ${gi} hold ${got} bytes, ${where} describes ${expected}` +
        (got < expected ? ' (shard missing data: truncated or short)' : ' (more than described: dtype or shape mismatch?)'));
    }
  });
  const shards = groups.flat();
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
