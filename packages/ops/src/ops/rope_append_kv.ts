import * as tf from '@tensorflow/tfjs-core';
import { MbqRopeAppendKv, MbqRopeAppendKvAttrs, MbqRopeAppendKvInputs } from '../kernel_names.js';
import { ropeAppendKvDims } from '../kernels/fused_common.js';
import { assertDtype, assertTensor, fail } from './validate.js';

export interface RopeAppendKvOptions {
  /** Query heads. */
  heads: number;
  /** Key/value heads. */
  kvHeads: number;
  /** Channels per head (even: rotate-half pairs channel i with i + headDim / 2). */
  headDim: number;
}

/**
 * A decoder attention's RoPE, q/k/v split and KV-cache append in one kernel: qkv [B, S,
 * (H + 2·KV)·d] (a merged q/k/v linear's output), cos/sin [..., d] as `rope` takes them against
 * qkv's rows, and optionally the cache so far kPast/vPast [B, P, KV·d]. Returns [q [B, S, H·d]
 * rotated, k [B, P + S, KV·d] = kPast then the rotated k heads, v [B, P + S, KV·d] = vPast then
 * the v heads]. No gradient.
 */
export function ropeAppendKv(qkv: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, options: RopeAppendKvOptions,
  past?: { k: tf.Tensor; v: tf.Tensor }): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const op = 'ropeAppendKv';
  const named: Array<[string, tf.Tensor]> = [['qkv', qkv], ['cos', cos], ['sin', sin]];
  if (past !== undefined) {
    if (past === null || typeof past !== 'object') fail(op, `'past' must be { k, v }, got ${String(past)}`);
    named.push(['kPast', past.k], ['vPast', past.v]);
  }
  for (const [name, t] of named) {
    assertTensor(op, name, t);
    assertDtype(op, name, t, 'float32');
  }
  const attrs: MbqRopeAppendKvAttrs = { heads: options.heads, kvHeads: options.kvHeads, headDim: options.headDim };
  ropeAppendKvDims(qkv.shape, cos.shape, sin.shape, past?.k.shape, past?.v.shape, attrs);
  const inputs: MbqRopeAppendKvInputs = past ? { qkv, cos, sin, kPast: past.k, vPast: past.v } : { qkv, cos, sin };
  const [q, k, v] = tf.engine().runKernel(MbqRopeAppendKv, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return [q!, k!, v!];
}
