/** Decoding without a cache: every step runs the whole graph on the whole sequence. */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { Decoder } from './decoder.js';
import { runGraph } from './run_graph.js';

/**
 * Index of the largest logit at the last position of `logits` `[1, S, V]`; a `banned` id is never
 * chosen (its logit taken as -Infinity, as transformers masks EOS under min_new_tokens).
 */
export async function argmaxLast(logits: tf.Tensor, banned?: number): Promise<number> {
  const [, s, v] = logits.shape as [number, number, number];
  const id = tf.tidy(() => {
    let row: tf.Tensor1D = tf.reshape(tf.slice(logits, [0, s - 1, 0], [1, 1, v]), [v]);
    if (banned !== undefined) row = tf.where(tf.equal(tf.range(0, v, 1, 'int32'), banned), tf.fill([v], -Infinity), row);
    return tf.argMax(row);
  });
  const [value] = await id.data();
  id.dispose();
  return value!;
}

export class RerunDecoder implements Decoder {
  readonly kind = 're-run' as const;
  private pixels: tf.Tensor4D | null = null;
  private ids: number[] = [];

  constructor(private readonly model: GraphModel, private readonly logitsName: string) {}

  private async next(banned?: number): Promise<number> {
    if (!this.pixels) throw new Error('decoder: step() before prefill()');
    const inputIds = tf.tensor2d(this.ids, [1, this.ids.length], 'int32');
    const [logits] = await runGraph(this.model, { pixel_values: this.pixels, input_ids: inputIds }, [this.logitsName]);
    inputIds.dispose();
    try {
      return await argmaxLast(logits!, banned);
    } finally {
      logits!.dispose();
    }
  }

  async prefill(pixelValues: tf.Tensor4D, promptIds: readonly number[], banned?: number): Promise<number> {
    this.dispose();
    this.pixels = tf.clone(pixelValues);
    this.ids = promptIds.slice();
    return this.next(banned);
  }

  async step(token: number, banned?: number): Promise<number> {
    this.ids.push(token);
    return this.next(banned);
  }

  dispose(): void {
    this.pixels?.dispose();
    this.pixels = null;
  }
}
