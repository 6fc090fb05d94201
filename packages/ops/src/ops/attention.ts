import * as tf from '@tensorflow/tfjs-core';
import { MbqAttention, MbqAttentionAttrs, MbqAttentionInputs } from '../kernel_names.js';
import { attentionDims } from '../kernels/fused_common.js';
import { assertDtype, assertTensor } from './validate.js';

export interface AttentionOptions {
  /** Query heads. */
  heads: number;
  /** Key/value heads (grouped-query attention when fewer than `heads`; must divide it). */
  kvHeads: number;
  /** Channels per head. */
  headDim: number;
  /** Score scale (default 1 / sqrt(headDim)). */
  scale?: number;
}

/**
 * Grouped-query attention in one kernel: q [B, Sq, H·d], k/v [B, Sk, KV·d], additive mask
 * [Sq, Sk]; head h reads k/v head floor(h / (H / KV)): softmax(q_h · k_gᵀ · scale + mask) · v_g,
 * out [B, Sq, H·d]. With Sq = 1 and k/v the KV cache, one decode step's attention. No gradient.
 */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor, options: AttentionOptions): tf.Tensor {
  const op = 'attention';
  for (const [name, t] of [['q', q], ['k', k], ['v', v], ['mask', mask]] as const) {
    assertTensor(op, name, t);
    assertDtype(op, name, t, 'float32');
  }
  const attrs: MbqAttentionAttrs = { heads: options.heads, kvHeads: options.kvHeads, headDim: options.headDim, scale: options.scale ?? 1 / Math.sqrt(options.headDim) };
  attentionDims(q.shape, k.shape, v.shape, mask.shape, attrs);
  const inputs: MbqAttentionInputs = { q, k, v, mask };
  return tf.engine().runKernel(MbqAttention, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
}
