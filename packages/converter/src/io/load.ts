/**
 * Loads a tfjs graph-model directory for conversion: model.json + weight shards, config.json,
 * tokenizer.json and mbq.json, all read and checked by @tfjs-mbq/format (the one reader).
 * Reads only; never writes into the directory.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  checkMbqAgainstModel, decodeWeights, parseMbqJson, readModelJson, readOptionalJsonFile, readJsonFile, readWeightGroups,
  type FileSource, type FormatErrorCode, type JsonFile, type MbqJson, type ModelJson,
} from '@tfjs-mbq/format';
import { fileSource } from '@tfjs-mbq/format/node';
import { ConversionError, fromFormatError } from './errors.js';
import type { WeightMap } from './weights.js';

export type { MbqJson };

/** The sidecar files a model directory holds next to model.json. */
export const SIDECAR_FILES = ['config.json', 'tokenizer.json', 'mbq.json'] as const;
export type SidecarFile = (typeof SIDECAR_FILES)[number];

export interface LoadedModel {
  dir: string;
  modelJson: ModelJson;
  weights: WeightMap;
  config: Record<string, unknown>;
  /** The parsed tokenizer.json, as it is (calib/ interprets it). */
  tokenizer: unknown;
  mbq: MbqJson & Record<string, unknown>;
  /** The sidecars' bytes as read (the output copies them byte for byte); absent ones are missing. */
  sidecarBytes: Map<SidecarFile, Uint8Array>;
}

export interface LoadOptions {
  /** Scan float weights for NaN/Inf (default true). */
  checkFinite?: boolean;
  /** Also require config.json, tokenizer.json, mbq.json (default true). */
  requireSidecars?: boolean;
}

const SIDECAR_CODES: Record<SidecarFile, FormatErrorCode> = { 'config.json': 'CONFIG', 'tokenizer.json': 'TOKENIZER', 'mbq.json': 'MBQ_JSON' };

/** What the converter can rewrite: plain float32 / int32 / bool weights (no tfjs-converter quantization). */
function checkConvertible(modelJson: ModelJson, file: string): void {
  for (const w of modelJson.weightsManifest.flatMap((g) => g.weights)) {
    if (w.quantization !== undefined) throw new ConversionError('MODEL_JSON_FORMAT', `${file}: weight "${w.name}": quantized weights in the manifest are not supported (convert without --quantize_* first)`, file);
    if (w.dtype === 'complex64') throw new ConversionError('WEIGHTS_DTYPE', `${file}: weight "${w.name}": unsupported dtype "complex64" (expected float32, int32, bool)`, file);
  }
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
  try {
    return await loadFrom(root, fileSource(root), opts);
  } catch (e) {
    throw fromFormatError(e);
  }
}

async function loadFrom(root: string, source: FileSource, opts: LoadOptions): Promise<LoadedModel> {
  const { modelJson, where } = await readModelJson(source);
  checkConvertible(modelJson, where);
  const groups = await readWeightGroups(source, modelJson, where);
  const weights = decodeWeights({ modelJson, where, groups }, { checkFinite: opts.checkFinite ?? true });
  const requireSidecars = opts.requireSidecars ?? true;
  const sidecars = new Map<SidecarFile, JsonFile>();
  for (const name of SIDECAR_FILES) {
    const file = requireSidecars ? await readJsonFile(source, name, SIDECAR_CODES[name]) : await readOptionalJsonFile(source, name, SIDECAR_CODES[name]);
    if (file) sidecars.set(name, file);
  }
  const config = sidecars.get('config.json');
  if (config !== undefined && (typeof config.value !== 'object' || config.value === null || Array.isArray(config.value))) {
    throw new ConversionError('CONFIG', `${config.where}: expected a JSON object`, config.where);
  }
  const mbqFile = sidecars.get('mbq.json');
  const mbq = mbqFile === undefined ? undefined : parseMbqJson(mbqFile.value, mbqFile.where);
  if (mbq !== undefined && mbqFile !== undefined && config !== undefined) checkMbqAgainstModel(mbq, mbqFile.where, config.value, config.where, undefined, mbq.tokenizer !== 'hf');
  return {
    dir: root, modelJson, weights,
    config: (config?.value ?? {}) as Record<string, unknown>,
    tokenizer: sidecars.get('tokenizer.json')?.value,
    mbq: mbq as MbqJson & Record<string, unknown>,
    sidecarBytes: new Map([...sidecars].map(([k, v]) => [k, v.bytes])),
  };
}
