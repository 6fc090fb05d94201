/**
 * Small synthetic LLaMA-style VLMs for the converter tests: the fixture's synthetic builder
 * (fixtures/src/model/synthetic.ts) at test sizes, so tests exercise the real graph layout without
 * the trained fixture.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyVlmConfig, type TinyVlmConfig } from '../../../../fixtures/src/model/config.js';
import { writeSyntheticVlm } from '../../../../fixtures/src/model/synthetic.js';
import { WordTokenizer } from '../../../../fixtures/src/tokenizer.js';

export interface SyntheticOptions {
  layers?: number;
  seed?: number;
  kvHeads?: number;
  /** Randomise norm gammas (they init to 1) so that folding is not trivially exact. */
  randomGammas?: boolean;
}

function syntheticConfig(opts: SyntheticOptions = {}): { config: TinyVlmConfig; tok: WordTokenizer } {
  const tok = WordTokenizer.fixture();
  const c = tinyVlmConfig(tok.size);
  c.imageSize = 32;
  c.vision = { ...c.vision, hidden: 32, layers: 1, mlp: 64 };
  c.projectorHidden = 64;
  c.lm = { ...c.lm, hidden: 64, layers: opts.layers ?? 2, heads: 2, kvHeads: opts.kvHeads ?? 2, mlp: 128, maxSeq: 64 };
  return { config: c, tok };
}

/** Writes a synthetic model directory and returns its path. */
export async function writeSyntheticModel(opts: SyntheticOptions = {}, dir?: string): Promise<string> {
  const out = dir ?? mkdtempSync(join(tmpdir(), 'mbq-synth-'));
  const { config, tok } = syntheticConfig(opts);
  await writeSyntheticVlm(out, config, tok, opts);
  return out;
}
