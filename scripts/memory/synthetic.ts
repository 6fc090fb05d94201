/**
 * Random-weight LLaMA-style VLMs with N decoder blocks in the fixture's graph conventions, for the
 * memory benchmark. The graph and the directory layout come from the fixture's own exporter
 * (fixtures/src/model), so this measures exactly the structure the converter meets; only the
 * sizes and the weights differ. (It lives here, not in packages/converter/src: the fixture
 * package depends on the converter, so the converter cannot import its exporter.)
 */
import { exportFixture } from '../../fixtures/src/model/export.js';
import { tinyVlmConfig, type TinyVlmConfig } from '../../fixtures/src/model/config.js';
import { initWeights } from '../../fixtures/src/model/init.js';
import { WordTokenizer } from '../../fixtures/src/tokenizer.js';
import { Prng } from '../../fixtures/src/prng.js';

export interface SyntheticVlmOptions {
  blocks: number;
  /** Residual width of the language model (a multiple of 32 and of heads). */
  hidden?: number;
  /** MLP width (a multiple of 32). */
  mlp?: number;
  heads?: number;
  kvHeads?: number;
  seed?: number;
}

export function syntheticVlmConfig(o: SyntheticVlmOptions): { config: TinyVlmConfig; tok: WordTokenizer } {
  const tok = WordTokenizer.fixture();
  const c = tinyVlmConfig(tok.size);
  c.lm = { ...c.lm, layers: o.blocks, hidden: o.hidden ?? c.lm.hidden, mlp: o.mlp ?? c.lm.mlp, heads: o.heads ?? c.lm.heads, kvHeads: o.kvHeads ?? c.lm.kvHeads };
  return { config: c, tok };
}

/** Writes the model directory (model.json, shards, config.json, tokenizer.json, mbq.json). */
export async function writeSyntheticVlm(dir: string, o: SyntheticVlmOptions): Promise<TinyVlmConfig> {
  const { config, tok } = syntheticVlmConfig(o);
  const weights = initWeights(config, o.seed ?? 1);
  // Norm gammas initialise to 1; random ones keep the scale folding from being trivially exact.
  const rng = new Prng((o.seed ?? 1) + 99);
  for (const [name, t] of weights) {
    if (/layernorm\/weight$|lm\/norm\/weight$/.test(name)) for (let i = 0; i < t.data.length; i++) t.data[i] = 0.5 + rng.next();
  }
  await exportFixture(dir, config, tok, weights);
  return config;
}

/** Bytes of the language model's decoder-block weights (what grows with the block count). */
export function blockWeightBytes(c: TinyVlmConfig): number {
  const h = c.lm.hidden;
  const kv = c.lm.kvHeads * (h / c.lm.heads);
  return 4 * (2 * h + h * h * 2 + h * kv * 2 + 3 * h * c.lm.mlp);
}
