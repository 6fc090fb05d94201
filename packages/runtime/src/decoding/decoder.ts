import type * as tf from '@tensorflow/tfjs-core';

/** Greedy next-token source over one sequence: the prompt first, then one token at a time. */
export interface Decoder {
  /** How it decodes: `kv-cache` (one position per step) or `re-run` (the whole sequence per step). */
  readonly kind: 'kv-cache' | 're-run';
  /** Runs the prompt and returns the most likely next token other than `banned`. */
  prefill(pixelValues: tf.Tensor4D, promptIds: readonly number[], banned?: number): Promise<number>;
  /** Appends `token` to the sequence and returns the most likely next token other than `banned`. */
  step(token: number, banned?: number): Promise<number>;
  /** Frees the tensors this sequence holds. */
  dispose(): void;
}
