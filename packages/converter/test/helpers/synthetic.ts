/**
 * Synthetic LLaMA-style VLMs with random weights, built with the fixture's own exporter
 * (fixtures/src/model), so tests exercise the real graph layout without the trained fixture.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportFixture, buildGraph } from '../../../../fixtures/src/model/export.js';
import { tinyVlmConfig, type TinyVlmConfig } from '../../../../fixtures/src/model/config.js';
import { initWeights } from '../../../../fixtures/src/model/init.js';
import { WordTokenizer } from '../../../../fixtures/src/tokenizer.js';
import { Prng } from '../../../../fixtures/src/prng.js';

export interface SyntheticOptions {
  layers?: number;
  seed?: number;
  kvHeads?: number;
  /** Randomise norm gammas (they init to 1) so that folding is not trivially exact. */
  randomGammas?: boolean;
}

export function syntheticConfig(opts: SyntheticOptions = {}): { config: TinyVlmConfig; tok: WordTokenizer } {
  const tok = WordTokenizer.fixture();
  const c = tinyVlmConfig(tok.size);
  c.imageSize = 32;
  c.vision = { ...c.vision, hidden: 32, layers: 1, mlp: 64 };
  c.projectorHidden = 64;
  c.lm = { ...c.lm, hidden: 64, layers: opts.layers ?? 2, heads: 2, kvHeads: opts.kvHeads ?? 2, mlp: 128, maxSeq: 64 };
  return { config: c, tok };
}

export function syntheticWeights(c: TinyVlmConfig, opts: SyntheticOptions = {}): ReturnType<typeof initWeights> {
  const w = initWeights(c, opts.seed ?? 1);
  if (opts.randomGammas ?? true) {
    const rng = new Prng((opts.seed ?? 1) + 99);
    for (const [name, t] of w) {
      if (/layernorm\/weight$|lm\/norm\/weight$/.test(name)) for (let i = 0; i < t.data.length; i++) t.data[i] = 0.5 + rng.next();
    }
  }
  return w;
}

/** Writes a synthetic model directory and returns its path. */
export async function writeSyntheticModel(opts: SyntheticOptions = {}, dir?: string): Promise<string> {
  const out = dir ?? mkdtempSync(join(tmpdir(), 'mbq-synth-'));
  const { config, tok } = syntheticConfig(opts);
  await exportFixture(out, config, tok, syntheticWeights(config, opts));
  return out;
}

export { buildGraph };
