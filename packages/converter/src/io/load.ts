/**
 * Loads and validates a tfjs graph-model directory: model.json + weight shards, config.json,
 * tokenizer.json and mbq.json. Reads only; never writes into the directory.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ModelJson, WeightEntryJson, WeightDtype } from '../graph/types.js';
import { ConversionError } from './errors.js';
import { WeightMap, WeightArray, sizeOf, bytesPerElement } from './weights.js';

export interface MbqJson {
  imageTokenCount: number;
  imageTokenOffset: number;
  imageTokenId: number;
  bosTokenId: number;
  eosTokenId: number;
  imageSize: [number, number];
  [k: string]: unknown;
}

export interface LoadedModel {
  dir: string;
  modelJson: ModelJson;
  weights: WeightMap;
  config: Record<string, unknown>;
  /** The parsed tokenizer.json, as it is (calib/ interprets it). */
  tokenizer: unknown;
  mbq: MbqJson;
}

const DTYPES: readonly WeightDtype[] = ['float32', 'int32', 'bool'];

async function readText(file: string, code: 'MODEL_JSON_READ' | 'CONFIG' | 'TOKENIZER' | 'MBQ_JSON'): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const what = err.code === 'ENOENT' ? 'file not found' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new ConversionError(code, `${file}: cannot read (${what})`, file);
  }
}

function parseJson(text: string, file: string, code: 'MODEL_JSON_PARSE' | 'CONFIG' | 'TOKENIZER' | 'MBQ_JSON'): unknown {
  try {
    // A leading UTF-8 byte order mark (some Windows editors write one) is not part of the JSON.
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    const truncated = /Unexpected end|unterminated|end of JSON/i.test((e as Error).message);
    throw new ConversionError(code, `${file}: ${truncated ? 'truncated JSON' : 'malformed JSON'} (${(e as Error).message})`, file);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks the shape of model.json beyond JSON syntax. */
export function validateModelJson(raw: unknown, file: string): ModelJson {
  const bad = (msg: string): never => { throw new ConversionError('MODEL_JSON_FORMAT', `${file}: ${msg}`, file); };
  if (!isObject(raw)) bad('expected a JSON object');
  const obj = raw as Record<string, unknown>;
  if (obj.format !== 'graph-model') {
    bad(`expected "format": "graph-model" (a tfjs graph model), got ${JSON.stringify(obj.format)}` +
      (obj.format === 'layers-model' ? '; layers models are not supported, convert to a graph model first' : ''));
  }
  const topo = obj.modelTopology;
  if (!isObject(topo) || !Array.isArray(topo.node)) bad('"modelTopology.node" must be an array of nodes');
  const names = new Set<string>();
  (topo as { node: unknown[] }).node.forEach((n, i) => {
    if (!isObject(n) || typeof n.name !== 'string' || typeof n.op !== 'string') bad(`modelTopology.node[${i}] must have string "name" and "op"`);
    const node = n as { name: string; input?: unknown };
    if (names.has(node.name)) bad(`duplicate node name "${node.name}"`);
    names.add(node.name);
    if (node.input !== undefined && (!Array.isArray(node.input) || node.input.some((x) => typeof x !== 'string'))) {
      bad(`node "${node.name}": "input" must be an array of strings`);
    }
  });
  if (!Array.isArray(obj.weightsManifest)) bad('"weightsManifest" must be an array');
  (obj.weightsManifest as unknown[]).forEach((g, gi) => {
    if (!isObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) bad(`weightsManifest[${gi}] must have "paths" and "weights" arrays`);
    const group = g as { paths: unknown[]; weights: unknown[] };
    group.paths.forEach((p) => { if (typeof p !== 'string' || p.length === 0) bad(`weightsManifest[${gi}].paths must be non-empty strings`); });
    group.weights.forEach((w, wi) => {
      if (!isObject(w) || typeof w.name !== 'string') bad(`weightsManifest[${gi}].weights[${wi}] must have a string "name"`);
      const e = w as Record<string, unknown>;
      if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || (d as number) < 0)) {
        bad(`weight "${e.name as string}": shape must be an array of non-negative integers, got ${JSON.stringify(e.shape)}`);
      }
      if (e.quantization !== undefined) bad(`weight "${e.name as string}": quantized weights in the manifest are not supported (convert without --quantize_* first)`);
      if (!DTYPES.includes(e.dtype as WeightDtype)) {
        throw new ConversionError('WEIGHTS_DTYPE', `${file}: weight "${e.name as string}": unsupported dtype ${JSON.stringify(e.dtype)} (expected ${DTYPES.join(', ')})`, file);
      }
    });
  });
  return obj as unknown as ModelJson;
}

/** Resolves a manifest path inside `dir`, refusing anything that escapes it. */
export function resolveShardPath(dir: string, p: string, file: string): string {
  if (path.isAbsolute(p) || /^[a-zA-Z]:[\\/]/.test(p) || p.startsWith('\\')) {
    throw new ConversionError('WEIGHTS_PATH_ESCAPE', `${file}: weight path "${p}" is absolute; shard paths must be relative to the model directory`, file);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) {
    throw new ConversionError('WEIGHTS_PATH_ESCAPE', `${file}: weight path "${p}" is a URL; shard paths must be relative files in the model directory`, file);
  }
  const root = path.resolve(dir);
  const full = path.resolve(root, p);
  const rel = path.relative(root, full);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new ConversionError('WEIGHTS_PATH_ESCAPE', `${file}: weight path "${p}" escapes the model directory`, file);
  }
  return full;
}

/** Reads every shard, checks sizes against the manifest, and splits it into named typed arrays. */
async function readWeights(dir: string, model: ModelJson, file: string, checkFinite: boolean): Promise<WeightMap> {
  const weights: WeightMap = new Map();
  for (const [gi, group] of model.weightsManifest.entries()) {
    const buffers: Buffer[] = [];
    for (const p of group.paths) {
      const full = resolveShardPath(dir, p, file);
      try {
        const st = await fs.lstat(full);
        if (st.isSymbolicLink()) {
          const real = await fs.realpath(full);
          const rel = path.relative(await fs.realpath(dir), real);
          if (rel.startsWith('..') || path.isAbsolute(rel)) {
            throw new ConversionError('WEIGHTS_PATH_ESCAPE', `${full}: weight shard is a link that points outside the model directory`, full);
          }
        }
        buffers.push(await fs.readFile(full));
      } catch (e) {
        if (e instanceof ConversionError) throw e;
        const code = (e as NodeJS.ErrnoException).code;
        throw new ConversionError('WEIGHTS_SHARD_MISSING',
          `${full}: weight shard listed in ${file} ${code === 'ENOENT' ? 'is missing' : `cannot be read (${code ?? (e as Error).message})`}`, full);
      }
    }
    const data = buffers.length === 1 ? buffers[0] : Buffer.concat(buffers);
    const expected = group.weights.reduce((acc, w) => acc + sizeOf(w.shape) * bytesPerElement(w.dtype), 0);
    const shardNames = group.paths.join(', ');
    if (data.length < expected) {
      throw new ConversionError('WEIGHTS_SHARD_SIZE',
        `${path.join(dir, group.paths[group.paths.length - 1])}: weight shards of group ${gi} (${shardNames}) hold ${data.length} bytes, the manifest in ${file} needs ${expected} (shard too short or truncated)`,
        path.join(dir, group.paths[group.paths.length - 1]));
    }
    if (data.length > expected) {
      throw new ConversionError('WEIGHTS_SHARD_SIZE',
        `${path.join(dir, group.paths[0])}: weight shards of group ${gi} (${shardNames}) hold ${data.length} bytes, more than the ${expected} the manifest in ${file} describes (dtype or shape mismatch?)`,
        path.join(dir, group.paths[0]));
    }
    let offset = 0;
    for (const w of group.weights) {
      const n = sizeOf(w.shape);
      const bytes = n * bytesPerElement(w.dtype);
      const slice = new Uint8Array(data.buffer.slice(data.byteOffset + offset, data.byteOffset + offset + bytes));
      offset += bytes;
      if (weights.has(w.name)) throw new ConversionError('MODEL_JSON_FORMAT', `${file}: weight "${w.name}" is listed twice in the manifest`, file);
      const arr = toTyped(w, slice);
      if (checkFinite && arr.data instanceof Float32Array) {
        for (let i = 0; i < arr.data.length; i++) {
          if (!Number.isFinite(arr.data[i])) {
            throw new ConversionError('WEIGHTS_NONFINITE',
              `${path.join(dir, shardNames)}: weight "${w.name}" holds ${Number.isNaN(arr.data[i]) ? 'NaN' : 'Inf'} at flat index ${i}`, path.join(dir, group.paths[0]));
          }
        }
      }
      weights.set(w.name, arr);
    }
  }
  return weights;
}

function toTyped(w: WeightEntryJson, bytes: Uint8Array): WeightArray {
  const shape = [...w.shape];
  switch (w.dtype) {
    case 'float32': return { dtype: 'float32', shape, data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) };
    case 'int32': return { dtype: 'int32', shape, data: new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) };
    default: return { dtype: 'bool', shape, data: bytes };
  }
}

/** Checks that every Const node with a manifest weight agrees with its declared dtype/shape. */
function checkConstsAgainstManifest(model: ModelJson, weights: WeightMap, file: string): void {
  for (const node of model.modelTopology.node) {
    if (node.op !== 'Const') continue;
    const w = weights.get(node.name);
    const value = node.attr?.value?.tensor;
    if (!w) {
      if (!value) throw new ConversionError('WEIGHTS_MISSING', `${file}: Const node "${node.name}" has no weight in the manifest and no inline value`, file);
      continue;
    }
    const dt = node.attr?.dtype?.type;
    const expect = dt === 'DT_FLOAT' ? 'float32' : dt === 'DT_INT32' ? 'int32' : dt === 'DT_BOOL' ? 'bool' : undefined;
    if (dt !== undefined && expect !== w.dtype) {
      throw new ConversionError('WEIGHTS_DTYPE', `${file}: Const node "${node.name}" is ${dt} but its manifest weight is ${w.dtype}`, file);
    }
    const dims: unknown = value?.tensorShape?.dim;
    if (dims !== undefined && dims !== null) {
      if (!Array.isArray(dims) || dims.some((d) => !isObject(d))) {
        throw new ConversionError('MODEL_JSON_FORMAT', `${file}: Const node "${node.name}": value.tensor.tensorShape.dim must be a list of {"size": n}, got ${JSON.stringify(dims)}`, file);
      }
      const shape = (dims as Array<{ size?: unknown }>).map((d) => Number(d.size));
      if (shape.length !== w.shape.length || shape.some((d, i) => d !== w.shape[i])) {
        throw new ConversionError('WEIGHTS_SHAPE', `${file}: Const node "${node.name}" has shape [${shape}] but its manifest weight has shape [${w.shape}]`, file);
      }
    }
  }
}

function requireNumber(obj: Record<string, unknown>, key: string, file: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new ConversionError('MBQ_JSON', `${file}: "${key}" must be a non-negative integer, got ${JSON.stringify(v)}`, file);
  }
  return v;
}

function validateMbqJson(raw: unknown, file: string): MbqJson {
  if (!isObject(raw)) throw new ConversionError('MBQ_JSON', `${file}: expected a JSON object`, file);
  for (const k of ['imageTokenCount', 'imageTokenOffset', 'imageTokenId', 'bosTokenId', 'eosTokenId']) requireNumber(raw, k, file);
  const size = raw.imageSize;
  if (!Array.isArray(size) || size.length !== 2 || size.some((d) => !Number.isInteger(d) || (d as number) <= 0)) {
    throw new ConversionError('MBQ_JSON', `${file}: "imageSize" must be [H, W] of positive integers, got ${JSON.stringify(size)}`, file);
  }
  return raw as MbqJson;
}

export interface LoadOptions {
  /** Scan float weights for NaN/Inf (default true). */
  checkFinite?: boolean;
  /** Also require config.json, tokenizer.json, mbq.json (default true). */
  requireSidecars?: boolean;
}

export async function loadModelDir(dir: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const root = path.resolve(dir);
  try {
    const st = await fs.stat(root);
    if (!st.isDirectory()) throw new ConversionError('MODEL_JSON_READ', `${root}: not a directory (expected a model directory with model.json)`, root);
  } catch (e) {
    if (e instanceof ConversionError) throw e;
    throw new ConversionError('MODEL_JSON_READ', `${root}: model directory not found`, root);
  }
  const modelFile = path.join(root, 'model.json');
  const modelJson = validateModelJson(parseJson(await readText(modelFile, 'MODEL_JSON_READ'), modelFile, 'MODEL_JSON_PARSE'), modelFile);
  const weights = await readWeights(root, modelJson, modelFile, opts.checkFinite ?? true);
  checkConstsAgainstManifest(modelJson, weights, modelFile);
  const requireSidecars = opts.requireSidecars ?? true;
  const sidecar = async (name: string, code: 'CONFIG' | 'TOKENIZER' | 'MBQ_JSON'): Promise<unknown> => {
    const f = path.join(root, name);
    if (!requireSidecars) {
      try { await fs.access(f); } catch { return undefined; }
    }
    return parseJson(await readText(f, code), f, code);
  };
  const config = await sidecar('config.json', 'CONFIG');
  if (config !== undefined && !isObject(config)) throw new ConversionError('CONFIG', `${path.join(root, 'config.json')}: expected a JSON object`, path.join(root, 'config.json'));
  const tokenizer = await sidecar('tokenizer.json', 'TOKENIZER');
  const mbqRaw = await sidecar('mbq.json', 'MBQ_JSON');
  const mbq = mbqRaw === undefined ? undefined : validateMbqJson(mbqRaw, path.join(root, 'mbq.json'));
  return { dir: root, modelJson, weights, config: (config ?? {}) as Record<string, unknown>, tokenizer, mbq: mbq as MbqJson };
}
