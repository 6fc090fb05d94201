/**
 * The fused decoder ops of @tfjs-mbq/ops (MbqRmsNorm, MbqAddRmsNorm, MbqSiluGate, MbqRope, MbqAttention,
 * MbqRopeAppendKv; what
 * emit/fuse.ts writes) as compositions of tfjs ops, so the executor runs a fused graph with
 * gradients (tf.grad) on any backend: the converter reads its own fused output like any graph.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  decodeAttentionAttrs, decodeRmsNormAttrs, decodeRopeAppendKvAttrs, decodeRopeAttrs,
  MBQ_ADD_RMS_NORM_OP, MBQ_ATTENTION_OP, MBQ_RMS_NORM_OP, MBQ_ROPE_APPEND_KV_OP, MBQ_ROPE_OP, MBQ_SILU_GATE_OP,
} from '@tfjs-mbq/format';
import type { OpImpl } from './ops.js';
import type { NodeDefJson } from './types.js';

const reader = (n: NodeDefJson) => (name: string): unknown => {
  const a = n.attr?.[name];
  return a?.i ?? a?.f;
};

/** y = x·cos + rotate_half(x)·sin over the heads of x [..., n, d]; cos/sin [..., d] broadcast per head. */
function rotate(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const [x1, x2] = tf.split(x, 2, -1);
  const rot = tf.concat([tf.neg(x2!), x1!], -1);
  const c = tf.expandDims(cos, -2), s = tf.expandDims(sin, -2);
  return tf.add(tf.mul(x, c), tf.mul(rot, s));
}

/** The first `heads` heads (width d) of x [..., L] rotated, the rest of the last axis copied. */
function ropeHeads(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, d: number, heads: number): tf.Tensor {
  const L = x.shape[x.rank - 1]!;
  const lead = x.shape.slice(0, -1);
  const rotated = tf.reshape(rotate(tf.reshape(tf.slice(x, new Array(x.rank).fill(0), [...lead, heads * d]), [...lead, heads, d]), cos, sin), [...lead, heads * d]);
  return heads * d === L ? rotated : tf.concat([rotated, tf.slice(x, [...lead.map(() => 0), heads * d], [...lead, L - heads * d])], -1);
}

const rmsNorm = (x: tf.Tensor, gamma: tf.Tensor, eps: number): tf.Tensor => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), gamma);

export const FUSED_OP_IMPLS: Record<string, OpImpl> = {
  [MBQ_RMS_NORM_OP]: ([x, gamma], n) => rmsNorm(x!, gamma!, decodeRmsNormAttrs(reader(n), `node "${n.name}"`).eps),
  [MBQ_ADD_RMS_NORM_OP]: ([x, residual, gamma], n) => {
    const sum = tf.add(x!, residual!);
    return [rmsNorm(sum, gamma!, decodeRmsNormAttrs(reader(n), `node "${n.name}"`).eps), sum];
  },
  [MBQ_SILU_GATE_OP]: ([x]) => {
    const [g, u] = tf.split(x!, 2, -1);
    return tf.mul(tf.mul(g!, tf.sigmoid(g!)), u!);
  },
  [MBQ_ROPE_OP]: ([x, cos, sin], n) => {
    const { headDim: d, heads } = decodeRopeAttrs(reader(n), `node "${n.name}"`);
    return ropeHeads(x!, cos!, sin!, d, heads);
  },
  [MBQ_ROPE_APPEND_KV_OP]: ([qkv, cos, sin, kPast, vPast], n) => {
    const { heads: H, kvHeads: KV, headDim: d } = decodeRopeAppendKvAttrs(reader(n), `node "${n.name}"`);
    const roped = ropeHeads(qkv!, cos!, sin!, d, H + KV);
    const [q, k, v] = tf.split(roped, [H * d, KV * d, KV * d], -1);
    return kPast && vPast ? [q!, tf.concat([kPast, k!], 1), tf.concat([vPast, v!], 1)] : [q!, k!, v!];
  },
  [MBQ_ATTENTION_OP]: ([q, k, v, mask], n) => {
    const { heads: H, kvHeads: KV, headDim: d, scale } = decodeAttentionAttrs(reader(n), `node "${n.name}"`);
    const [B, Sq] = q!.shape as [number, number, number];
    const Sk = k!.shape[1]!;
    const groupOf = tf.tensor1d(Array.from({ length: H }, (_, h) => Math.floor(h / (H / KV))), 'int32');
    const heads = (t: tf.Tensor, S: number, h: number): tf.Tensor => tf.transpose(tf.reshape(t, [B, S, h, d]), [0, 2, 1, 3]);
    const qh = heads(q!, Sq, H);
    const kh = tf.gather(heads(k!, Sk, KV), groupOf, 1);
    const vh = tf.gather(heads(v!, Sk, KV), groupOf, 1);
    const p = tf.softmax(tf.add(tf.mul(tf.matMul(qh, kh, false, true), scale), mask!));
    return tf.reshape(tf.transpose(tf.matMul(p, vh), [0, 2, 1, 3]), [B, Sq, H * d]);
  },
};
