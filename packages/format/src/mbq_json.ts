/**
 * `mbq.json` (docs/architecture.md): where the image tokens sit in the prompt and which token ids
 * are special. One schema for every reader and writer.
 */
import { FormatError } from './errors.js';

export interface MbqJson {
  /** Number of `<image>` tokens the graph replaces with vision features (>= 1). */
  imageTokenCount: number;
  /** Position of the first `<image>` token in the prompt. */
  imageTokenOffset: number;
  imageTokenId: number;
  bosTokenId: number;
  eosTokenId: number;
  /** Padding id for batched sequences (the converter falls back to eosTokenId). */
  padTokenId?: number;
  /** Input image size `[H, W]` of `pixel_values`. */
  imageSize: [number, number];
  /**
   * Positions the graph's tables cover, when fewer than config.json's max_position_embeddings (an
   * import builds at most a bounded number: a 32768-position causal mask alone is 4 GiB).
   */
  maxPositions?: number;
}

const ID_FIELDS = ['imageTokenId', 'bosTokenId', 'eosTokenId'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a parsed mbq.json (read from `file`) and returns its fields; unknown fields are kept
 * (later format versions add some). Throws a FormatError naming the file and the field.
 */
export function parseMbqJson(raw: unknown, file: string): MbqJson & Record<string, unknown> {
  const bad = (msg: string): never => { throw new FormatError('MBQ_JSON', `${file}: ${msg}`, file); };
  if (!isObject(raw)) return bad('expected a JSON object');
  const int = (key: string, min: number): number => {
    const v = raw[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) bad(`"${key}" must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const size = raw.imageSize;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isSafeInteger(d) && (d as number) > 0)) {
    bad(`"imageSize" must be [H, W] of positive integers, got ${JSON.stringify(size)}`);
  }
  const out: MbqJson & Record<string, unknown> = {
    ...raw,
    imageTokenCount: int('imageTokenCount', 1),
    imageTokenOffset: int('imageTokenOffset', 0),
    imageTokenId: int('imageTokenId', 0),
    bosTokenId: int('bosTokenId', 0),
    eosTokenId: int('eosTokenId', 0),
    imageSize: [(size as number[])[0]!, (size as number[])[1]!],
  };
  if (raw.padTokenId !== undefined) out.padTokenId = int('padTokenId', 0);
  if (raw.maxPositions !== undefined) out.maxPositions = int('maxPositions', 1);
  return out;
}

/** The fields of a Hugging Face `config.json` the format cross-checks (all optional). */
interface HfConfigFields {
  vocab_size?: unknown;
  image_seq_length?: unknown;
  text_config?: { vocab_size?: unknown; max_position_embeddings?: unknown };
  vision_config?: { image_size?: unknown; patch_size?: unknown };
  max_position_embeddings?: unknown;
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/** The model's vocabulary size stated in config.json (`text_config.vocab_size` or `vocab_size`), if any. */
export function configVocabSize(config: unknown): number | undefined {
  const c = (isObject(config) ? config : {}) as HfConfigFields;
  return positiveInt(c.text_config?.vocab_size) ?? positiveInt(c.vocab_size);
}

/** The longest sequence stated in config.json (`text_config.max_position_embeddings` or top level), if any. */
export function configMaxPositions(config: unknown): number | undefined {
  const c = (isObject(config) ? config : {}) as HfConfigFields;
  return positiveInt(c.text_config?.max_position_embeddings) ?? positiveInt(c.max_position_embeddings);
}

/** The longest sequence the model runs: config.json's positions, or mbq.json's `maxPositions` when fewer. */
export function modelMaxPositions(mbq: Pick<MbqJson, 'maxPositions'>, config: unknown): number | undefined {
  const fromConfig = configMaxPositions(config);
  if (mbq.maxPositions === undefined) return fromConfig;
  return fromConfig === undefined ? mbq.maxPositions : Math.min(fromConfig, mbq.maxPositions);
}

/**
 * Checks mbq.json against the rest of the model: config.json must be a JSON object; token ids
 * must lie inside the vocabulary (the smaller of config.json's and the tokenizer's, when known),
 * and the tokenizer must make no id past config.json's vocabulary;
 * with `fixedImageRun` (the word-level layout: one run of image tokens per image, its length set
 * by the vision tower) the run must agree with config.json's image size, patches and positions.
 */
export function checkMbqAgainstModel(
  mbq: MbqJson, mbqFile: string, config: unknown, configFile: string, tokenizerVocabSize?: number, fixedImageRun = true,
): void {
  if (!isObject(config)) throw new FormatError('CONFIG', `${configFile}: expected a JSON object`, configFile);
  const configVocab = configVocabSize(config);
  // A tokenizer with ids past the embedding's rows makes ids the model cannot look up: a prompt
  // holding such a token fails inside tfjs's gather (cpu, wasm) or reads zeros (webgpu).
  if (configVocab !== undefined && tokenizerVocabSize !== undefined && tokenizerVocabSize > configVocab) {
    throw new FormatError('CONFIG', `${configFile}: "vocab_size" is ${configVocab} but the tokenizer has ids up to ${tokenizerVocabSize - 1}; the model cannot embed them`, configFile);
  }
  const vocabs = [configVocab, tokenizerVocabSize].filter((v): v is number => v !== undefined);
  if (vocabs.length > 0) {
    const vocab = Math.min(...vocabs);
    for (const k of [...ID_FIELDS, ...(mbq.padTokenId !== undefined ? ['padTokenId' as const] : [])]) {
      const id = mbq[k]!;
      if (id >= vocab) throw new FormatError('MBQ_JSON', `${mbqFile}: "${k}" is ${id}, outside the vocabulary of ${vocab} tokens`, mbqFile);
    }
  }
  if (!fixedImageRun) return;
  const seq = positiveInt((config as HfConfigFields).image_seq_length);
  if (seq !== undefined && seq !== mbq.imageTokenCount) {
    throw new FormatError('MBQ_JSON', `${mbqFile}: "imageTokenCount" is ${mbq.imageTokenCount} but ${configFile} says "image_seq_length": ${seq}`, mbqFile);
  }
  const vision = (config as HfConfigFields).vision_config;
  const side = positiveInt(vision?.image_size);
  const patch = positiveInt(vision?.patch_size);
  if (side !== undefined && (mbq.imageSize[0] !== side || mbq.imageSize[1] !== side)) {
    throw new FormatError('MBQ_JSON', `${mbqFile}: "imageSize" is [${mbq.imageSize}] but ${configFile} says vision_config.image_size ${side}`, mbqFile);
  }
  if (side !== undefined && patch !== undefined && side % patch === 0) {
    // One token per patch; vision towers with a class token may keep it (one more).
    const grid = (side / patch) ** 2;
    if (mbq.imageTokenCount !== grid && mbq.imageTokenCount !== grid + 1) {
      throw new FormatError('MBQ_JSON', `${mbqFile}: "imageTokenCount" is ${mbq.imageTokenCount} but a ${side}x${side} image in ${patch}-pixel patches (${configFile}) gives ${grid}`, mbqFile);
    }
  }
  const maxPos = modelMaxPositions(mbq, config);
  if (maxPos !== undefined && mbq.imageTokenOffset + mbq.imageTokenCount >= maxPos) {
    throw new FormatError('MBQ_JSON', `${mbqFile}: the image tokens end at position ${mbq.imageTokenOffset + mbq.imageTokenCount}, past the model's ${maxPos} positions`, mbqFile);
  }
}
