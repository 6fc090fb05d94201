/**
 * What evaluation asks of a model: greedy answers and caption likelihoods for a batch of images
 * and texts. Both engines make their inputs with the runtime's ModelInputs (the model's image
 * processor and prompt builder), so they differ only in how the graph runs.
 */
import type { ModelInputs, RgbaImage } from '@tfjs-mbq/runtime';

/**
 * - `runtime`: `loadVlm` of @tfjs-mbq/runtime, `vlm.generate()` per question (KV cache when the
 *   graph allows it) and `vlm.score()` per caption: the path users run.
 * - `executor`: the converter's GraphExecutor on right-padded batches, re-running the batch per
 *   token (linears as 2-D matmuls: several times faster on wasm, whose batched matmul is slow).
 */
export type EngineName = 'runtime' | 'executor';
export const ENGINE_NAMES: readonly EngineName[] = ['runtime', 'executor'];

export interface QuestionInput { image: RgbaImage; question: string }
export interface CaptionInput { image: RgbaImage; caption: string }

export interface EvalEngine {
  readonly name: EngineName;
  /** The model directory (or URL). */
  readonly location: string;
  readonly inputs: ModelInputs;
  /**
   * Whether one call on several inputs is faster than a call per input: false for `runtime`
   * (one generate() per question anyway), so evaluation hands it one input at a time and can
   * report progress per question.
   */
  readonly batched: boolean;
  /** Greedy answer ids of each question: at most `maxNewTokens`, stopping at EOS (not included). */
  answer(batch: readonly QuestionInput[], maxNewTokens: number): Promise<number[][]>;
  /** Summed negative log-likelihood of each caption's tokens and EOS after the prompt of an empty question. */
  captionNll(batch: readonly CaptionInput[]): Promise<{ nll: number; tokens: number }>;
  dispose(): void;
}
