import * as tf from '@tensorflow/tfjs-core';
import { MbqRope, MbqRopeAttrs, MbqRopeInputs } from '../kernel_names.js';
import { ropeDims } from '../kernels/fused_common.js';
import { assertDtype, assertTensor } from './validate.js';

export interface RopeOptions {
  /** Channels per head (even: rotate-half pairs channel i with i + headDim / 2). */
  headDim: number;
  /** Heads rotated, from the start of the last axis (default: all of it); the rest is copied. */
  heads?: number;
}

/**
 * Rotate-half RoPE (LLaMA) of the first `heads` heads of x [..., n·headDim] in one kernel:
 * y = x·cos + rotate_half(x)·sin per head, cos/sin [..., headDim] broadcast against x's rows
 * (their leading axes end x's leading axes, e.g. [S, d] against [B, S, n·d]). No gradient.
 */
export function rope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, options: RopeOptions): tf.Tensor {
  const op = 'rope';
  assertTensor(op, 'x', x);
  assertTensor(op, 'cos', cos);
  assertTensor(op, 'sin', sin);
  for (const [name, t] of [['x', x], ['cos', cos], ['sin', sin]] as const) assertDtype(op, name, t, 'float32');
  const L = x.shape[x.shape.length - 1] ?? 0;
  const attrs: MbqRopeAttrs = { headDim: options.headDim, heads: options.heads ?? Math.floor(L / options.headDim) };
  ropeDims(x.shape, cos.shape, sin.shape, attrs);
  const inputs: MbqRopeInputs = { x, cos, sin };
  return tf.engine().runKernel(MbqRope, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
}
