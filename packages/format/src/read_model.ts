/**
 * The one reader of a model's files over a FileSource: model.json (validated), its weight shards
 * (each read no further than the manifest declares, group sizes checked), and JSON sidecars.
 */
import { FormatError, type FormatErrorCode } from './errors.js';
import type { ModelJson, WeightEntryJson } from './graph_model.js';
import { MAX_JSON_BYTES, SourceReadError, type FileSource, type LocalFile } from './source.js';
import { validateModelJson } from './validate_model_json.js';
import { decodeHalfBytes } from './half.js';
import { sizeOf, storedByteLength, type WeightArray, type WeightMap } from './weights.js';

/** Largest total of weights a model.json may declare (8 GiB), checked before any shard is read. */
export const DEFAULT_MAX_WEIGHT_BYTES = 8 * 1024 ** 3;

function sourceFailure(e: unknown, code: FormatErrorCode, where: string): never {
  if (e instanceof SourceReadError) {
    const err = new FormatError(e.problem === 'outside' && code.startsWith('WEIGHTS') ? 'WEIGHTS_PATH_ESCAPE' : code, e.message, e.where);
    err.cause = e;
    throw err;
  }
  throw new FormatError(code, `${where}: cannot read (${(e as Error).message})`, where);
}

/** A source error's message without the location it starts with. */
function detail(e: SourceReadError): string {
  return e.message.startsWith(`${e.where}: `) ? e.message.slice(e.where.length + 2) : e.message;
}

/** Parses JSON text (a leading UTF-8 byte order mark, as some editors write, is skipped). */
function parseJsonText(text: string, file: string, code: FormatErrorCode): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    const truncated = /Unexpected end|unterminated|end of JSON/i.test((e as Error).message);
    throw new FormatError(code, `${file}: invalid JSON, ${truncated ? 'truncated' : 'malformed'} (${(e as Error).message})`, file);
  }
}

export interface JsonFile {
  /** The parsed value. */
  value: unknown;
  /** The file's bytes as read (a converter copies sidecars byte for byte). */
  bytes: Uint8Array;
  /** Where it was read, for messages. */
  where: string;
}

/** Reads and parses a JSON file of the model; `code` is the error code of its problems. */
export async function readJsonFile(source: FileSource, file: string, code: FormatErrorCode): Promise<JsonFile> {
  const where = source.where(file);
  let bytes: Uint8Array;
  try {
    bytes = await source.read(file, MAX_JSON_BYTES);
  } catch (e) {
    return sourceFailure(e, code, where);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError(code, `${where}: not UTF-8 text`, where);
  }
  return { value: parseJsonText(text, where, code), bytes, where };
}

/** As readJsonFile, but a file that does not exist gives undefined (other problems still throw). */
export async function readOptionalJsonFile(source: FileSource, file: string, code: FormatErrorCode): Promise<JsonFile | undefined> {
  try {
    return await readJsonFile(source, file, code);
  } catch (e) {
    if (e instanceof FormatError && (e.cause as SourceReadError | undefined)?.problem === 'not-found') return undefined;
    throw e;
  }
}

/** Reads model.json of a source and validates it (no shards read). */
export async function readModelJson(source: FileSource, file = 'model.json'): Promise<{ modelJson: ModelJson; where: string }> {
  const { value, where } = await readJsonFile(source, file, 'MODEL_JSON_READ');
  return { modelJson: validateModelJson(value, where), where };
}

export interface ReadWeightsOptions {
  /** Refuse a model whose manifest declares more bytes than this (default 8 GiB). */
  maxWeightBytes?: number;
  /**
   * Called with the weight bytes read so far and the total the manifest declares: once before
   * the first shard (0 of the total), then after each shard is read.
   */
  onProgress?: (progress: WeightReadProgress) => void;
}

/** How far the weight shards of a model have been read. */
export interface WeightReadProgress {
  /** Weight bytes read so far. */
  loadedBytes: number;
  /** Weight bytes the manifest declares. */
  totalBytes: number;
  /** The shard just read (its path or URL); undefined before the first. */
  file?: string;
}

/** Each manifest group's declared bytes, refused before any shard is touched when their total is over `limit`. */
function declaredGroupBytes(modelJson: ModelJson, modelWhere: string, limit: number): { perGroup: number[]; total: number } {
  const perGroup = modelJson.weightsManifest.map((g) => g.weights.reduce((a, w) => a + storedByteLength(w), 0));
  const total = perGroup.reduce((a, b) => a + b, 0);
  if (total > limit) {
    throw new FormatError('WEIGHTS_SHARD_SIZE', `${modelWhere}: the manifest declares ${total} bytes of weights, more than the limit of ${limit}`, modelWhere);
  }
  return { perGroup, total };
}

/**
 * Takes one group's shards in order, each no further than the group still lacks (`take` reads or
 * locates one shard and says how many bytes it holds), and refuses a group whose shards hold more
 * or fewer bytes than its entries declare. The one home of the shard checks of both readers below.
 */
async function takeGroupShards<T>(
  source: FileSource, paths: readonly string[], gi: number, want: number, modelWhere: string,
  take: (path: string, maxBytes: number) => Promise<{ item: T; bytes: number }>,
): Promise<T[]> {
  const items: T[] = [];
  let got = 0;
  const shards = paths.map((p) => source.where(p)).join(', ');
  for (const p of paths) {
    let taken: { item: T; bytes: number };
    try {
      taken = await take(p, want - got);
    } catch (e) {
      if (e instanceof SourceReadError && e.problem === 'too-large') {
        throw new FormatError('WEIGHTS_SHARD_SIZE', `${shards}: weight shards of group ${gi} hold more than the ${want} bytes ${modelWhere} describes (${detail(e)}; more than described: dtype or shape mismatch?)`, source.where(p));
      }
      if (e instanceof SourceReadError && e.problem === 'not-found') {
        throw new FormatError('WEIGHTS_SHARD_MISSING', `${e.where}: weight shard listed in ${modelWhere} is missing (${detail(e)})`, e.where);
      }
      return sourceFailure(e, 'WEIGHTS_SHARD_MISSING', source.where(p));
    }
    items.push(taken.item);
    got += taken.bytes;
  }
  if (got !== want) {
    throw new FormatError('WEIGHTS_SHARD_SIZE', `${shards}: weight shards of group ${gi} hold ${got} bytes, ${modelWhere} describes ${want} (shard missing data: truncated or short)`,
      source.where(paths[paths.length - 1] ?? 'model.json'));
  }
  return items;
}

/**
 * The bytes of every manifest group, in manifest order, each exactly as long as its entries
 * declare. A shard is read only up to what its group still lacks, so a sparse, oversized or
 * endless shard costs no more than the manifest declares.
 */
export async function readWeightGroups(source: FileSource, modelJson: ModelJson, modelWhere: string, options: ReadWeightsOptions = {}): Promise<WeightGroup[]> {
  const groups = await readWeightShards(source, modelJson, modelWhere, options);
  return groups.map((g, gi) => ({ bytes: g.parts.length === 1 ? g.parts[0]! : concatBytes(g.parts, g.bytes), shards: modelJson.weightsManifest[gi]!.paths.map((p) => source.where(p)) }));
}

/** One manifest group's shards as read, not joined: a model over V8's typed-array limit stays in pieces. */
export interface WeightShardGroup {
  /** Each shard's bytes, in order (the last possibly cut at what the group declares). */
  parts: Uint8Array[];
  /** Their total, exactly what the group's entries declare. */
  bytes: number;
}

/** What readWeightGroups reads and checks, each shard its own array (no group is copied into one). */
export async function readWeightShards(source: FileSource, modelJson: ModelJson, modelWhere: string, options: ReadWeightsOptions = {}): Promise<WeightShardGroup[]> {
  const { perGroup, total } = declaredGroupBytes(modelJson, modelWhere, options.maxWeightBytes ?? DEFAULT_MAX_WEIGHT_BYTES);
  const groups: WeightShardGroup[] = [];
  let loaded = 0;
  options.onProgress?.({ loadedBytes: 0, totalBytes: total });
  for (const [gi, group] of modelJson.weightsManifest.entries()) {
    const want = perGroup[gi]!;
    const parts = await takeGroupShards(source, group.paths, gi, want, modelWhere, async (p, maxBytes) => {
      const bytes = await source.read(p, maxBytes);
      loaded += bytes.byteLength;
      options.onProgress?.({ loadedBytes: loaded, totalBytes: total, file: source.where(p) });
      return { item: bytes, bytes: bytes.byteLength };
    });
    groups.push({ parts, bytes: want });
  }
  return groups;
}

/** One manifest group's shards as local files, checked but not read (locateWeightGroups). */
export interface LocatedWeightGroup {
  /** Its shards in order, each with where it was read (for messages); their bytes add up to the group's. */
  files: (LocalFile & { where: string })[];
  bytes: number;
}

/**
 * What readWeightGroups checks (declared total within the limit, every shard inside the model's
 * directory, a regular file, the group's shards holding exactly the declared bytes), for a
 * directory source, without reading any weight: a reader then takes each weight's byte range
 * when it needs it.
 */
export async function locateWeightGroups(source: FileSource, modelJson: ModelJson, modelWhere: string, options: ReadWeightsOptions = {}): Promise<LocatedWeightGroup[]> {
  const local = source.localFile?.bind(source);
  if (!local) throw new FormatError('MODEL_JSON_READ', `${source.location}: weights can be read a tensor at a time only from a local directory`, source.location);
  const { perGroup } = declaredGroupBytes(modelJson, modelWhere, options.maxWeightBytes ?? Number.MAX_SAFE_INTEGER);
  const groups: LocatedWeightGroup[] = [];
  for (const [gi, group] of modelJson.weightsManifest.entries()) {
    const files = await takeGroupShards(source, group.paths, gi, perGroup[gi]!, modelWhere, async (p, maxBytes) => {
      const file = await local(p, maxBytes);
      return { item: { ...file, where: source.where(p) }, bytes: file.bytes };
    });
    groups.push({ files, bytes: perGroup[gi]! });
  }
  return groups;
}

export function concatBytes(parts: readonly Uint8Array[], total = parts.reduce((a, p) => a + p.byteLength, 0)): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) { out.set(p, offset); offset += p.byteLength; }
  return out;
}

/** One manifest group's weight bytes (its shards in order, exactly the declared length). */
export interface WeightGroup {
  bytes: Uint8Array;
  /** Where its shards were read, for messages. */
  shards: string[];
}

export interface GraphModelFiles {
  modelJson: ModelJson;
  /** Where model.json was read, for messages. */
  where: string;
  /** Each manifest group, in order. */
  groups: WeightGroup[];
}

/** model.json (validated) and all its weight bytes (sizes checked). */
export async function readGraphModel(source: FileSource, options: ReadWeightsOptions = {}): Promise<GraphModelFiles> {
  const { modelJson, where } = await readModelJson(source);
  const groups = await readWeightGroups(source, modelJson, where, options);
  return { modelJson, where, groups };
}

export interface DecodeOptions {
  /** Refuse NaN/Inf in float weights (default false). */
  checkFinite?: boolean;
}

/**
 * Splits weight groups into named typed arrays (each its own copy), as decodeWeightBytes decodes them.
 */
export function decodeWeights(files: GraphModelFiles, options: DecodeOptions = {}): WeightMap {
  const { modelJson, where, groups } = files;
  const weights: WeightMap = new Map();
  modelJson.weightsManifest.forEach((group, gi) => {
    const data = groups[gi]!.bytes;
    let offset = 0;
    for (const w of group.weights) {
      const bytes = storedByteLength(w);
      const arr = decodeWeightBytes(w, data.slice(offset, offset + bytes), where);
      offset += bytes;
      if (options.checkFinite) {
        const i = firstNonFinite(arr);
        if (i >= 0) {
          const shards = groups[gi]!.shards;
          throw new FormatError('WEIGHTS_NONFINITE', `${shards.join(', ')}: weight "${w.name}" holds ${Number.isNaN(arr.data[i]) ? 'NaN' : 'Inf'} at flat index ${i} (listed in ${where})`, shards[0]);
        }
      }
      weights.set(w.name, arr);
    }
  });
  return weights;
}

/**
 * One manifest entry's stored bytes (exactly storedByteLength(w), a copy the result may keep) as a
 * typed array. float32, int32 and bool decode as stored; float32 stored as float16 (tfjs-converter's
 * `--quantize_float16`, `tfjs-mbq import --dtype float16`) widens exactly to float32. Other
 * quantizations are refused naming the weight.
 */
export function decodeWeightBytes(w: WeightEntryJson, bytes: Uint8Array, where: string): WeightArray {
  const shape = [...w.shape];
  if (w.quantization !== undefined) {
    if (w.quantization.dtype === 'float16' && w.dtype === 'float32') return { dtype: 'float32', shape, data: decodeHalfBytes(bytes) };
    throw new FormatError('WEIGHTS_DTYPE', `${where}: weight "${w.name}": ${w.quantization.dtype}-quantized weights in the manifest are not supported (only float16-stored float32; convert without --quantize_uint8/--quantize_uint16 first)`, where);
  }
  switch (w.dtype) {
    case 'float32': return { dtype: 'float32', shape, data: new Float32Array(bytes.buffer, bytes.byteOffset, sizeOf(shape)) };
    case 'int32': return { dtype: 'int32', shape, data: new Int32Array(bytes.buffer, bytes.byteOffset, sizeOf(shape)) };
    case 'bool': return { dtype: 'bool', shape, data: bytes };
    default: throw new FormatError('WEIGHTS_DTYPE', `${where}: weight "${w.name}": dtype ${w.dtype} cannot be decoded (expected float32, int32, bool)`, where);
  }
}

/** Index of the first NaN or Inf of a float weight, or -1 (non-float weights: -1). */
export function firstNonFinite(w: WeightArray): number {
  const d = w.data;
  if (!(d instanceof Float32Array)) return -1;
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return i;
  return -1;
}

/**
 * The first NaN or Inf of a manifest entry's stored bytes (as decodeWeightBytes would decode them),
 * found on the bits without decoding: an all-ones exponent. A float16-stored 7B model is checked
 * this way in seconds, where widening every weight first took minutes (issue 12 §4).
 */
export function firstNonFiniteStored(w: WeightEntryJson, bytes: Uint8Array): { index: number; nan: boolean } | null {
  const half = w.quantization?.dtype === 'float16' && w.dtype === 'float32';
  if (!half && (w.quantization !== undefined || w.dtype !== 'float32')) return null;
  const width = half ? 2 : 4;
  const n = Math.floor(bytes.byteLength / width);
  const aligned = bytes.byteOffset % width === 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (half) {
    const h = aligned ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : undefined;
    for (let i = 0; i < n; i++) {
      const v = h ? h[i]! : view.getUint16(i * 2, true);
      if ((v & 0x7c00) === 0x7c00) return { index: i, nan: (v & 0x3ff) !== 0 };
    }
  } else {
    const u = aligned ? new Uint32Array(bytes.buffer, bytes.byteOffset, n) : undefined;
    for (let i = 0; i < n; i++) {
      const v = u ? u[i]! : view.getUint32(i * 4, true);
      if ((v & 0x7f800000) === 0x7f800000) return { index: i, nan: (v & 0x7fffff) !== 0 };
    }
  }
  return null;
}
