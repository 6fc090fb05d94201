/**
 * Loads a tfjs graph-model directory for conversion: model.json + weight shards, config.json,
 * tokenizer.json and mbq.json, and for a Hugging Face import (mbq.json `tokenizer: "hf"`) the
 * checkpoint's tokenizer, chat-template and processor files, all read and checked by
 * @tfjs-mbq/format (the one reader). Reads only; never writes into the directory.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  checkMbqAgainstModel, FormatError, HF_SIDECAR_FILES, locateWeightGroups, parseMbqJson, readHfModelFiles, readModelJson,
  readOptionalJsonFile, readJsonFile, relabelledSource, type FileSource, type FormatErrorCode, type HfTextFiles, type JsonFile, type MbqJson, type ModelJson,
} from '@tfjs-mbq/format';
import { fileSource } from '@tfjs-mbq/format/node';
import { ConversionError, fromFormatError } from './errors.js';
import { LazyWeightMap } from './lazy_weights.js';

export type { MbqJson };

/** The sidecar files every model directory holds next to model.json (a Hugging Face import has more: HF_SIDECAR_FILES). */
export const SIDECAR_FILES = ['config.json', 'tokenizer.json', 'mbq.json'] as const;
export type SidecarFile = (typeof SIDECAR_FILES)[number];

export interface LoadedModel {
  dir: string;
  /** How messages name the model directory: `dir`, or for an on-the-fly import the checkpoint it came from. */
  location: string;
  /** How messages name a file of the model: its path, or for an on-the-fly import the checkpoint it came from. */
  where(file: string): string;
  modelJson: ModelJson;
  /** Read a tensor at a time from the shards when a stage asks (never the whole model in memory). */
  weights: LazyWeightMap;
  config: Record<string, unknown>;
  /** The parsed tokenizer.json, as it is (calib/ interprets it). */
  tokenizer: unknown;
  mbq: MbqJson & Record<string, unknown>;
  /** A Hugging Face import's tokenizer, chat template and processor settings, as read (undefined for word-level models). */
  hf?: HfTextFiles;
  /**
   * Every sidecar's bytes as read, SIDECAR_FILES first, then the Hugging Face files present (the
   * output copies them byte for byte); absent ones are missing.
   */
  sidecarBytes: Map<string, Uint8Array>;
}

export interface LoadOptions {
  /** Scan float weights for NaN/Inf (default true). */
  checkFinite?: boolean;
  /** Also require config.json, tokenizer.json, mbq.json (default true). */
  requireSidecars?: boolean;
  /**
   * The Hugging Face checkpoint directory that `dir` was imported from just now (a scratch copy):
   * messages name the checkpoint's own file for the files the import copies verbatim, and
   * `<checkpoint> (imported <file>)` for the ones it made.
   */
  importedFrom?: string;
}

function importedWhere(checkpoint: string): (file: string) => string {
  const copied = new Set<string>(HF_SIDECAR_FILES);
  return (file) => (copied.has(file) ? path.join(checkpoint, file) : `${checkpoint} (imported ${file})`);
}

const SIDECAR_CODES: Record<SidecarFile, FormatErrorCode> = { 'config.json': 'CONFIG', 'tokenizer.json': 'TOKENIZER', 'mbq.json': 'MBQ_JSON' };

/** What the converter can rewrite: float32 (stored as float32 or float16) / int32 / bool weights (no uint8/uint16 quantization). */
function checkConvertible(modelJson: ModelJson, file: string): void {
  for (const w of modelJson.weightsManifest.flatMap((g) => g.weights)) {
    if (w.quantization !== undefined && !(w.quantization.dtype === 'float16' && w.dtype === 'float32')) {
      throw new ConversionError('MODEL_JSON_FORMAT', `${file}: weight "${w.name}": ${w.quantization.dtype}-quantized weights in the manifest are not supported (only float16-stored float32; convert without --quantize_uint8/--quantize_uint16 first)`, file);
    }
    if (w.dtype === 'complex64') throw new ConversionError('WEIGHTS_DTYPE', `${file}: weight "${w.name}": unsupported dtype "complex64" (expected float32, int32, bool)`, file);
  }
}

/** Refuses NaN/Inf in a float weight, reading one weight at a time. */
function checkFinite(modelJson: ModelJson, shards: string[][], weights: LazyWeightMap, where: string): void {
  modelJson.weightsManifest.forEach((group, gi) => {
    for (const w of group.weights) {
      const bad = weights.firstNonFinite(w.name);
      if (bad) {
        const files = shards[gi]!;
        throw new FormatError('WEIGHTS_NONFINITE', `${files.join(', ')}: weight "${w.name}" holds ${bad.nan ? 'NaN' : 'Inf'} at flat index ${bad.index} (listed in ${where})`, files[0]);
      }
    }
  });
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
  const source = opts.importedFrom === undefined ? fileSource(root) : relabelledSource(fileSource(root), opts.importedFrom, importedWhere(opts.importedFrom));
  try {
    return await loadFrom(root, source, opts);
  } catch (e) {
    throw fromFormatError(e);
  }
}

async function loadFrom(root: string, source: FileSource, opts: LoadOptions): Promise<LoadedModel> {
  const { modelJson, where } = await readModelJson(source);
  checkConvertible(modelJson, where);
  const groups = await locateWeightGroups(source, modelJson, where);
  const weights = LazyWeightMap.fromManifest(modelJson, groups, where);
  if (opts.checkFinite ?? true) checkFinite(modelJson, groups.map((g) => g.files.map((f) => f.where)), weights, where);
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
  const sidecarBytes = new Map<string, Uint8Array>([...sidecars].map(([k, v]) => [k, v.bytes]));
  // A Hugging Face import's prompts and images need the checkpoint's own files (read once more by
  // the format's reader, which also requires tokenizer_config.json).
  const hf = mbq?.tokenizer === 'hf' && requireSidecars ? await readHfModelFiles(source) : undefined;
  for (const [f, bytes] of hf?.bytes ?? []) if (!sidecarBytes.has(f)) sidecarBytes.set(f, bytes);
  return {
    dir: root, location: source.location, where: (file) => source.where(file), modelJson, weights,
    config: (config?.value ?? {}) as Record<string, unknown>,
    tokenizer: sidecars.get('tokenizer.json')?.value,
    mbq: mbq as MbqJson & Record<string, unknown>,
    hf: hf?.text,
    sidecarBytes,
  };
}
