/** Decoding without a cache: every step runs the whole graph on the whole sequence. */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { Decoder } from './decoder.js';
import { runGraph } from './run_graph.js';

/** Index of the largest logit at the last position of `logits` `[1, S, V]`. */
export async function argmaxLast(logits: tf.Tensor): Promise<number> {
  const [, s, v] = logits.shape as [number, number, number];
  const id = tf.tidy(() => tf.argMax(tf.reshape(tf.slice(logits, [0, s - 1, 0], [1, 1, v]), [v])));
  const [value] = await id.data();
  id.dispose();
  return value!;
}

export class RerunDecoder implements Decoder {
  readonly kind = 're-run' as const;
  private pixels: tf.Tensor4D | null = null;
  private ids: number[] = [];

  constructor(private readonly model: GraphModel, private readonly logitsName: string) {}

  private async next(): Promise<number> {
    if (!this.pixels) throw new Error('decoder: step() before prefill()');
    const inputIds = tf.tensor2d(this.ids, [1, this.ids.length], 'int32');
    const [logits] = await runGraph(this.model, { pixel_values: this.pixels, input_ids: inputIds }, [this.logitsName]);
    inputIds.dispose();
    try {
      return await argmaxLast(logits!);
    } finally {
      logits!.dispose();
    }
  }

  async prefill(pixelValues: tf.Tensor4D, promptIds: readonly number[]): Promise<number> {
    this.dispose();
    this.pixels = tf.clone(pixelValues);
    this.ids = promptIds.slice();
    return this.next();
  }

  async step(token: number): Promise<number> {
    this.ids.push(token);
    return this.next();
  }

  dispose(): void {
    this.pixels?.dispose();
    this.pixels = null;
  }
}
