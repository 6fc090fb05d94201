/** Decoding with a key/value cache: the prefill graph once, then the derived step graph per token. */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { Decoder } from '../decoder.js';
import { argmaxLast } from '../rerun.js';
import { runGraph } from '../run_graph.js';
import type { StepGraph } from './step_graph.js';

export class KvCacheDecoder implements Decoder {
  readonly kind = 'kv-cache' as const;
  private ids: number[] = [];
  private frontier: tf.NamedTensorMap = {};
  private past: tf.NamedTensorMap = {};

  constructor(private readonly model: GraphModel, private readonly logitsName: string, private readonly step_: StepGraph) {}

  /** Runs the prefill and keeps what the steps read; returns the prefill logits (caller disposes). */
  async prefillLogits(pixelValues: tf.Tensor4D, promptIds: readonly number[]): Promise<tf.Tensor> {
    this.dispose();
    this.ids = promptIds.slice();
    const g = this.step_;
    const inputIds = tf.tensor2d(this.ids, [1, this.ids.length], 'int32');
    const outs = await runGraph(this.model, { pixel_values: pixelValues, input_ids: inputIds }, [this.logitsName, ...g.caches.map((c) => c.node), ...g.frontier]);
    inputIds.dispose();
    g.caches.forEach((c, k) => (this.past[c.past] = outs[1 + k]!));
    g.frontier.forEach((name, k) => (this.frontier[name] = outs[1 + g.caches.length + k]!));
    return outs[0]!;
  }

  /** Appends `token` and returns the step's logits `[1, 1, vocab]` (caller disposes). */
  async stepLogits(token: number): Promise<tf.Tensor> {
    this.ids.push(token);
    const g = this.step_;
    const inputIds = tf.tensor2d(this.ids, [1, this.ids.length], 'int32');
    const outs = await runGraph(this.model, { input_ids: inputIds, ...this.frontier, ...this.past }, [g.logits, ...g.caches.map((c) => c.present)]);
    inputIds.dispose();
    g.caches.forEach((c, k) => {
      this.past[c.past]!.dispose();
      this.past[c.past] = outs[1 + k]!;
    });
    return outs[0]!;
  }

  async prefill(pixelValues: tf.Tensor4D, promptIds: readonly number[], banned?: number): Promise<number> {
    const logits = await this.prefillLogits(pixelValues, promptIds);
    try { return await argmaxLast(logits, banned); } finally { logits.dispose(); }
  }

  async step(token: number, banned?: number): Promise<number> {
    const logits = await this.stepLogits(token);
    try { return await argmaxLast(logits, banned); } finally { logits.dispose(); }
  }

  dispose(): void {
    for (const t of [...Object.values(this.frontier), ...Object.values(this.past)]) t.dispose();
    this.frontier = {};
    this.past = {};
  }
}
