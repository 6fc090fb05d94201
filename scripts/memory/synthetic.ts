/**
 * Random-weight LLaMA-style VLMs with N decoder blocks for the memory benchmark: the fixture's
 * synthetic builder (fixtures/src/model/synthetic.ts) at the fixture's vision sizes and the given
 * language-model sizes.
 */
import { tinyVlmConfig, type TinyVlmConfig } from '../../fixtures/src/model/config.js';
import { writeSyntheticVlm as writeVlm } from '../../fixtures/src/model/synthetic.js';
import { WordTokenizer } from '../../fixtures/src/tokenizer.js';

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

function syntheticVlmConfig(o: SyntheticVlmOptions): { config: TinyVlmConfig; tok: WordTokenizer } {
  const tok = WordTokenizer.fixture();
  const c = tinyVlmConfig(tok.size);
  c.lm = { ...c.lm, layers: o.blocks, hidden: o.hidden ?? c.lm.hidden, mlp: o.mlp ?? c.lm.mlp, heads: o.heads ?? c.lm.heads, kvHeads: o.kvHeads ?? c.lm.kvHeads };
  return { config: c, tok };
}

/** Writes the model directory (model.json, shards, config.json, tokenizer.json, mbq.json). */
export async function writeSyntheticVlm(dir: string, o: SyntheticVlmOptions): Promise<TinyVlmConfig> {
  const { config, tok } = syntheticVlmConfig(o);
  // Random norm gammas keep the scale folding from being trivially exact.
  await writeVlm(dir, config, tok, { seed: o.seed });
  return config;
}

/** Bytes of the language model's decoder-block weights (what grows with the block count). */
export function blockWeightBytes(c: TinyVlmConfig): number {
  const h = c.lm.hidden;
  const kv = c.lm.kvHeads * (h / c.lm.heads);
  return 4 * (2 * h + h * h * 2 + h * kv * 2 + 3 * h * c.lm.mlp);
}
