/**
 * Tiny random-weight VLMs for the runtime tests and the decode benchmark: the shared synthetic
 * builder (fixtures/src/model/synthetic.ts: the fixture's graph layout and tokenizer) at the
 * runtime tests' sizes, with a larger lm_head so that argmax decoding agrees across backends.
 */
import { mbqJson } from '../../../../fixtures/src/model/export.js';
import { tinyVlmConfig, type TinyVlmConfig } from '../../../../fixtures/src/model/config.js';
import { writeSyntheticVlm, type SyntheticOptions } from '../../../../fixtures/src/model/synthetic.js';
import { WordTokenizer } from '../../../../fixtures/src/tokenizer.js';
import { mulberry32 } from '@tfjs-mbq/ops';

export interface Dims { imageSize: number; patch: number; hidden: number; heads: number; kvHeads: number; mlp: number; maxSeq: number }
export const TINY: Dims = { imageSize: 8, patch: 4, hidden: 16, heads: 2, kvHeads: 1, mlp: 24, maxSeq: 48 };

export interface TinyVlmOptions extends SyntheticOptions {
  layers?: number;
  /** Language-model dimensions (default TINY); the benchmark builds larger ones. */
  dims?: Partial<Dims>;
}

export const TOKENIZER = WordTokenizer.fixture();

/** The model's shape: a one-layer vision tower and the language model of `dims`. */
function tinyConfig(opts: Pick<TinyVlmOptions, 'layers' | 'dims'> = {}): TinyVlmConfig {
  const d: Dims = { ...TINY, ...opts.dims };
  const c = tinyVlmConfig(TOKENIZER.size);
  return {
    ...c,
    imageSize: d.imageSize,
    patchSize: d.patch,
    vision: { ...c.vision, hidden: 16, layers: 1, heads: 2, mlp: 32 },
    projectorHidden: 16,
    lm: { ...c.lm, hidden: d.hidden, layers: opts.layers ?? 2, heads: d.heads, kvHeads: d.kvHeads, mlp: d.mlp, maxSeq: d.maxSeq },
  };
}

/** mbq.json of the TINY model. */
export const MBQ_JSON = mbqJson(tinyConfig(), TOKENIZER);

/** Writes the model directory (model.json, shard, mbq.json, tokenizer.json, config.json) into `dir`. */
export async function writeTinyVlm(dir: string, opts: TinyVlmOptions = {}): Promise<string> {
  await writeSyntheticVlm(dir, tinyConfig(opts), TOKENIZER, { headGain: 3, ...opts });
  return dir;
}

/** Deterministic RGBA test image of `size` x `size`. */
export function testImage(size: number, seed = 7): { data: Uint8ClampedArray; width: number; height: number } {
  const rand = mulberry32(seed);
  const data = new Uint8ClampedArray(size * size * 4);
  for (let i = 0; i < data.length; i++) data[i] = i % 4 === 3 ? 255 : Math.floor(rand() * 256);
  return { data, width: size, height: size };
}
