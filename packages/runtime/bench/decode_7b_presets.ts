/**
 * Model sizes of the 7B decode benchmark. The decoder is the measured part: `7b` is LLaMA-7B's
 * (32 layers, hidden 4096, MLP 11008, 32 heads of 128, vocab 32000); the vision tower is a token
 * one (4 image tokens), so the 512-token prompt is the decoder's work.
 */
import { tinyVlmConfig, type TinyVlmConfig } from '../../../fixtures/src/model/config.js';

export const PRESETS = {
  '7b': { layers: 32, hidden: 4096, mlp: 11008, heads: 32, vocab: 32000 },
  tiny: { layers: 2, hidden: 128, mlp: 256, heads: 4, vocab: 512 },
} as const;
export type PresetName = keyof typeof PRESETS;

/** Positions: a 512-token prompt, 64 steps and the probes' margin. */
const MAX_SEQ = 640;

export function presetConfig(name: PresetName): TinyVlmConfig {
  const p = PRESETS[name];
  const c = tinyVlmConfig(p.vocab);
  return {
    ...c,
    imageSize: 16,
    patchSize: 8,
    vision: { ...c.vision, hidden: 64, layers: 1, heads: 2, mlp: 128 },
    projectorHidden: 64,
    lm: { ...c.lm, hidden: p.hidden, layers: p.layers, heads: p.heads, kvHeads: p.heads, mlp: p.mlp, vocab: p.vocab, eps: 1e-6, maxSeq: MAX_SEQ },
  };
}
