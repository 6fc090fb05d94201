/** The shape of model.json beyond JSON syntax: what every reader relies on, checked once. */
import { FormatError } from './errors.js';
import type { ManifestDtype, ModelJson, WeightEntryJson } from './graph_model.js';
import { canonicalRelativePath, relativePathProblem } from './paths.js';
import { storedByteLength } from './weights.js';

const MANIFEST_DTYPES: readonly ManifestDtype[] = ['float32', 'int32', 'bool', 'complex64'];
const QUANTIZED_DTYPES: readonly string[] = ['uint8', 'uint16', 'float16'];
const CONST_DTYPES: Record<string, ManifestDtype> = { DT_FLOAT: 'float32', DT_INT32: 'int32', DT_BOOL: 'bool', DT_COMPLEX64: 'complex64' };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks model.json (`raw`, read from `file`): a graph model with uniquely named nodes, a weights
 * manifest of fixed-size dtypes whose shard paths stay in the model's location and are listed once,
 * and Const nodes that agree with their manifest entries. Throws a FormatError naming the file.
 */
export function validateModelJson(raw: unknown, file: string): ModelJson {
  const bad = (msg: string, code: 'MODEL_JSON_FORMAT' | 'WEIGHTS_DTYPE' | 'WEIGHTS_PATH_ESCAPE' | 'WEIGHTS_SHAPE' | 'WEIGHTS_MISSING' = 'MODEL_JSON_FORMAT'): never => {
    throw new FormatError(code, `${file}: ${msg}`, file);
  };
  if (!isObject(raw)) bad('expected a JSON object');
  const obj = raw as Record<string, unknown>;
  if (obj.format !== 'graph-model') {
    bad(`format ${JSON.stringify(obj.format)} is not a tfjs graph model (expected "format": "graph-model")` +
      (obj.format === 'layers-model' ? '; layers models are not supported, convert to a graph model first' : ''));
  }
  const topo = obj.modelTopology;
  if (!isObject(topo) || !Array.isArray(topo.node)) bad('"modelTopology.node" must be an array of nodes');
  const names = new Set<string>();
  (topo as { node: unknown[] }).node.forEach((n, i) => {
    if (!isObject(n) || typeof n.name !== 'string' || typeof n.op !== 'string') bad(`modelTopology.node[${i}] must have string "name" and "op"`);
    const node = n as { name: string; input?: unknown; attr?: unknown };
    if (names.has(node.name)) bad(`duplicate node name "${node.name}"`);
    names.add(node.name);
    if (node.input !== undefined && (!Array.isArray(node.input) || node.input.some((x) => typeof x !== 'string'))) {
      bad(`node "${node.name}": "input" must be an array of strings`);
    }
    if (node.attr !== undefined && !isObject(node.attr)) bad(`node "${node.name}": "attr" must be an object`);
  });
  if (!Array.isArray(obj.weightsManifest)) bad('"weightsManifest" must be an array');
  const shardSeen = new Map<string, number>();
  const entries = new Map<string, WeightEntryJson>();
  (obj.weightsManifest as unknown[]).forEach((g, gi) => {
    if (!isObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) bad(`weightsManifest[${gi}] must have "paths" and "weights" arrays`);
    const group = g as { paths: unknown[]; weights: unknown[] };
    group.paths.forEach((p) => {
      if (typeof p !== 'string' || p.length === 0) bad(`weightsManifest[${gi}].paths must hold non-empty strings, got ${JSON.stringify(p)}`);
      const problem = relativePathProblem(p as string);
      if (problem !== undefined) bad(`weight path '${p as string}' leaves the model's location (it ${problem}); shard paths must be relative, without '..'`, 'WEIGHTS_PATH_ESCAPE');
      // The same shard listed twice would be read (and held) twice: refused before any read.
      const key = canonicalRelativePath(p as string);
      const first = shardSeen.get(key);
      if (first !== undefined) bad(`weight shard '${p as string}' is listed twice (weightsManifest[${first}] and [${gi}]); each shard holds its own bytes`);
      shardSeen.set(key, gi);
    });
    group.weights.forEach((w, wi) => {
      if (!isObject(w) || typeof w.name !== 'string') bad(`weightsManifest[${gi}].weights[${wi}] must have a string "name"`);
      const e = w as Record<string, unknown>;
      const name = e.name as string;
      if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
        bad(`weight "${name}": shape must be an array of non-negative integers, got ${JSON.stringify(e.shape)}`);
      }
      if (!MANIFEST_DTYPES.includes(e.dtype as ManifestDtype)) {
        bad(`weight "${name}": unsupported dtype ${JSON.stringify(e.dtype)} (expected ${MANIFEST_DTYPES.join(', ')})`, 'WEIGHTS_DTYPE');
      }
      if (e.quantization !== undefined && (!isObject(e.quantization) || !QUANTIZED_DTYPES.includes(e.quantization.dtype as string))) {
        bad(`weight "${name}": quantization.dtype must be one of ${QUANTIZED_DTYPES.join(', ')}, got ${JSON.stringify(isObject(e.quantization) ? e.quantization.dtype : e.quantization)}`, 'WEIGHTS_DTYPE');
      }
      if (!Number.isSafeInteger(storedByteLength(e as unknown as WeightEntryJson))) bad(`weight "${name}": shape ${JSON.stringify(e.shape)} is too large`, 'WEIGHTS_SHAPE');
      if (entries.has(name)) bad(`weight "${name}" is listed twice in the manifest`);
      entries.set(name, e as unknown as WeightEntryJson);
    });
  });
  const model = obj as unknown as ModelJson;
  checkConstsAgainstManifest(model, entries, file);
  return model;
}

/** Every Const node either has a manifest entry of its dtype and shape, or an inline value. */
function checkConstsAgainstManifest(model: ModelJson, entries: ReadonlyMap<string, WeightEntryJson>, file: string): void {
  for (const node of model.modelTopology.node) {
    if (node.op !== 'Const') continue;
    const w = entries.get(node.name);
    const value = node.attr?.value?.tensor;
    if (!w) {
      if (!value) throw new FormatError('WEIGHTS_MISSING', `${file}: Const node "${node.name}" has no weight in the manifest and no inline value`, file);
      continue;
    }
    const dt = node.attr?.dtype?.type;
    if (dt !== undefined && CONST_DTYPES[dt] !== w.dtype) {
      throw new FormatError('WEIGHTS_DTYPE', `${file}: Const node "${node.name}" is ${dt} but its manifest weight is ${w.dtype}`, file);
    }
    const dims: unknown = value?.tensorShape?.dim;
    if (dims !== undefined && dims !== null) {
      if (!Array.isArray(dims) || dims.some((d) => !isObject(d))) {
        throw new FormatError('MODEL_JSON_FORMAT', `${file}: Const node "${node.name}": value.tensor.tensorShape.dim must be a list of {"size": n}, got ${JSON.stringify(dims)}`, file);
      }
      const shape = (dims as Array<{ size?: unknown }>).map((d) => Number(d.size));
      if (shape.length !== w.shape.length || shape.some((d, i) => d !== w.shape[i])) {
        throw new FormatError('WEIGHTS_SHAPE', `${file}: Const node "${node.name}" has shape [${shape}] but its manifest weight has shape [${w.shape}]`, file);
      }
    }
  }
}
