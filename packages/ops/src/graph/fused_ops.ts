/**
 * Graph-model ops of the fused decoder kernels (MbqRmsNorm, MbqAddRmsNorm, MbqSiluGate, MbqRope, MbqAttention, MbqRopeAppendKv;
 * @tfjs-mbq/format's fused_nodes.ts), registered with tf.registerOp so that tf.loadGraphModel /
 * GraphModel.execute run such nodes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerOp } from '@tensorflow/tfjs-converter';
import type { GraphNode } from '@tensorflow/tfjs-converter';
import {
  decodeAttentionAttrs, decodeRmsNormAttrs, decodeRopeAppendKvAttrs, decodeRopeAttrs,
  MBQ_ADD_RMS_NORM_OP, MBQ_ATTENTION_OP, MBQ_RMS_NORM_OP, MBQ_ROPE_APPEND_KV_OP, MBQ_ROPE_OP, MBQ_SILU_GATE_OP,
} from '@tfjs-mbq/format';
import { addRmsNorm } from '../ops/add_rms_norm.js';
import { attention } from '../ops/attention.js';
import { rmsNorm } from '../ops/rms_norm.js';
import { rope } from '../ops/rope.js';
import { ropeAppendKv } from '../ops/rope_append_kv.js';
import { siluGate } from '../ops/silu_gate.js';

function inputsOf(node: GraphNode, op: string, names: string[]): tf.Tensor[] {
  if (node.inputs.length !== names.length) {
    throw new Error(`${op} node: expected ${names.length} inputs [${names.join(', ')}], got ${node.inputs.length}`);
  }
  return node.inputs;
}

export function registerFusedGraphOps(): void {
  registerOp(MBQ_RMS_NORM_OP, (node) => {
    const [x, gamma] = inputsOf(node, MBQ_RMS_NORM_OP, ['x', 'gamma']);
    return rmsNorm(x!, gamma!, decodeRmsNormAttrs((n) => node.attrs[n], `${MBQ_RMS_NORM_OP} node`).eps);
  });
  registerOp(MBQ_ADD_RMS_NORM_OP, (node) => {
    const [x, residual, gamma] = inputsOf(node, MBQ_ADD_RMS_NORM_OP, ['x', 'residual', 'gamma']);
    const { eps } = decodeRmsNormAttrs((n) => node.attrs[n], `${MBQ_ADD_RMS_NORM_OP} node`);
    if (tf.util.arraysEqual(x!.shape, residual!.shape)) return addRmsNorm(x!, residual!, gamma!, eps);
    // The Add it replaced broadcast; the kernels take one shape (a decoder's residuals always are).
    const sum = tf.add(x!, residual!);
    return [rmsNorm(sum, gamma!, eps), sum];
  });
  registerOp(MBQ_SILU_GATE_OP, (node) => siluGate(inputsOf(node, MBQ_SILU_GATE_OP, ['x'])[0]!));
  registerOp(MBQ_ROPE_OP, (node) => {
    const [x, cos, sin] = inputsOf(node, MBQ_ROPE_OP, ['x', 'cos', 'sin']);
    return rope(x!, cos!, sin!, decodeRopeAttrs((n) => node.attrs[n], `${MBQ_ROPE_OP} node`));
  });
  registerOp(MBQ_ATTENTION_OP, (node) => {
    const [q, k, v, mask] = inputsOf(node, MBQ_ATTENTION_OP, ['q', 'k', 'v', 'mask']);
    return attention(q!, k!, v!, mask!, decodeAttentionAttrs((n) => node.attrs[n], `${MBQ_ATTENTION_OP} node`));
  });
  // Three inputs as the converter writes it (prefill), five in the runtime's step graph (the KV cache).
  registerOp(MBQ_ROPE_APPEND_KV_OP, (node) => {
    const n = node.inputs.length;
    const [qkv, cos, sin, kPast, vPast] = inputsOf(node, MBQ_ROPE_APPEND_KV_OP, n === 5 ? ['qkv', 'cos', 'sin', 'kPast', 'vPast'] : ['qkv', 'cos', 'sin']);
    const attrs = decodeRopeAppendKvAttrs((a) => node.attrs[a], `${MBQ_ROPE_APPEND_KV_OP} node`);
    return ropeAppendKv(qkv!, cos!, sin!, attrs, n === 5 ? { k: kPast!, v: vPast! } : undefined);
  });
}
