/**
 * What a conversion may hold at once where its peaks would otherwise grow with the calibration
 * samples B and their length S (issue 12 §4; at LLaVA-1.5-7B's sizes: 650 tokens, vocab 32064,
 * C 4096, 33 block boundaries):
 * - whole-model passes (the float reference, the rotation and fold checks, the evaluation) run a
 *   run of samples at a time when all B samples' logits [B·S, vocab] would exceed logitsPassBytes,
 *   and the float reference logits are then kept on the host (in a scratch file when large);
 * - the MBQ sensitivity's loss step takes the gradient a few samples at a time, never on the whole
 *   chunk's logits (a step's tape holds ~15 arrays of its logits' size);
 * - a sensitivity chunk's block boundaries, (blocks + 1) · B·S·C floats, go to a scratch file.
 * None of these changes a result: each sample's rows are computed alone either way (tested bit for bit).
 */
export interface MemoryLimits {
  /** Whole-model passes take all samples at once unless their logits would exceed this many bytes. */
  logitsPassBytes: number;
  /** The most bytes of logits [samples · S, vocab] one sensitivity loss step makes (at least one sample per step). */
  headLogitsBytes: number;
  /** Block boundaries of a sensitivity chunk, or the float reference logits, go to a scratch file above this many bytes. */
  spillAboveBytes: number;
}

const MiB = 1024 * 1024;

/**
 * At 7B sizes: 2 GiB of logits is 25 samples per pass (128 samples: 6 passes); 256 MiB is 3 samples
 * per loss step; 1 GiB of boundaries is exceeded by a chunk of 3 or more samples (351 MB each).
 */
export const DEFAULT_MEMORY_LIMITS: Readonly<MemoryLimits> = { logitsPassBytes: 2048 * MiB, headLogitsBytes: 256 * MiB, spillAboveBytes: 1024 * MiB };

/** Samples per sensitivity loss step after the first (which takes one sample, to learn the vocabulary size). */
export function headSamplesPerStep(seqLen: number, vocab: number, headLogitsBytes: number): number {
  return Math.max(1, Math.floor(headLogitsBytes / (seqLen * vocab * 4)));
}

/** Samples per whole-model pass: all B when their logits fit in logitsPassBytes (or the vocabulary is unknown), else as many as fit, at least one. */
export function passSamples(B: number, seqLen: number, vocab: number | undefined, logitsPassBytes: number): number {
  if (vocab === undefined || B * seqLen * vocab * 4 <= logitsPassBytes) return B;
  return Math.max(1, Math.floor(logitsPassBytes / (seqLen * vocab * 4)));
}

/** Checks a caller's limits (library option `memoryLimits`); returns them completed with the defaults. */
export function resolveMemoryLimits(o: Partial<MemoryLimits> | undefined, bad: (msg: string) => never): MemoryLimits {
  const r = { ...DEFAULT_MEMORY_LIMITS, ...o };
  for (const k of ['logitsPassBytes', 'headLogitsBytes', 'spillAboveBytes'] as const) {
    if (!Number.isSafeInteger(r[k]) || r[k] < 0) bad(`memoryLimits.${k} must be a non-negative integer (bytes), got ${String(r[k])}`);
  }
  return r;
}
