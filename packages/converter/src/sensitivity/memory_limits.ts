/**
 * What one sensitivity chunk (streamed.ts) may hold at once, so that its peaks do not grow with the
 * chunk's samples B and their length S where they are largest at 7B scale:
 * - the loss step takes the caption loss's gradient a few samples at a time, never on the whole
 *   chunk's [B·S, vocab] logits (with their log-softmax and dense targets: several such arrays);
 * - the block boundaries, (blocks + 1) · B·S·C floats, go to a scratch file above a size.
 * Neither changes a result: each sample's rows are computed alone either way (tested bit for bit).
 */
export interface SensitivityMemory {
  /** The most bytes of logits [samples · S, vocab] one step of the loss makes (at least one sample per step). */
  headLogitsBytes: number;
  /** The chunk's block boundaries go to a scratch file when together they would exceed this many bytes. */
  spillBoundariesAboveBytes: number;
}

const MiB = 1024 * 1024;

/**
 * At LLaVA-1.5-7B's sizes (650 tokens, vocab 32064, C 4096, 33 boundaries): 256 MiB of logits is 3
 * samples per loss step; 1 GiB of boundaries is exceeded by a chunk of 3 or more samples (351 MB each).
 */
export const DEFAULT_SENSITIVITY_MEMORY: Readonly<SensitivityMemory> = { headLogitsBytes: 256 * MiB, spillBoundariesAboveBytes: 1024 * MiB };

/** Samples per loss step after the first (which takes one sample, to learn the vocabulary size). */
export function headSamplesPerStep(seqLen: number, vocab: number, headLogitsBytes: number): number {
  return Math.max(1, Math.floor(headLogitsBytes / (seqLen * vocab * 4)));
}

/** Checks a caller's limits (library option `sensitivityMemory`); returns them completed with the defaults. */
export function resolveSensitivityMemory(o: Partial<SensitivityMemory> | undefined, bad: (msg: string) => never): SensitivityMemory {
  const r = { ...DEFAULT_SENSITIVITY_MEMORY, ...o };
  for (const k of ['headLogitsBytes', 'spillBoundariesAboveBytes'] as const) {
    if (!Number.isSafeInteger(r[k]) || r[k] < 0) bad(`sensitivityMemory.${k} must be a non-negative integer (bytes), got ${String(r[k])}`);
  }
  return r;
}
