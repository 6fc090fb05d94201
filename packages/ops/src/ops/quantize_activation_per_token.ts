import * as tf from '@tensorflow/tfjs-core';
import {
  MbqQuantizeActivationPerToken, MbqQuantizeActivationPerTokenAttrs, MbqQuantizeActivationPerTokenInputs,
} from '../kernel_names.js';
import { assertBits, assertDtype, assertMinRank, assertTensor, assertNonEmpty } from './validate.js';

export interface QuantizeActivationOptions {
  /** Bits per activation code (symmetric, one scale per token), e.g. 8. */
  bits: number;
}

export interface QuantizedActivation {
  /** float32 [..., K]: codes * scale (the pseudo-quantized activation). */
  values: tf.Tensor;
  /** int32 [..., K]: signed codes in [-2^(bits-1), 2^(bits-1) - 1]. */
  codes: tf.Tensor;
  /** float32 [..., 1]: max(absmax of the token, 1e-5) / (2^(bits-1) - 1). */
  scales: tf.Tensor;
}

function run(x: tf.Tensor, options: QuantizeActivationOptions, op: string): tf.Tensor[] {
  assertTensor(op, 'x', x);
  assertDtype(op, 'x', x, 'float32');
  assertNonEmpty(op, 'x', x);
  assertMinRank(op, 'x', x, 1);
  assertBits(op, options.bits);
  const inputs: MbqQuantizeActivationPerTokenInputs = { x };
  const attrs: MbqQuantizeActivationPerTokenAttrs = { bits: options.bits };
  return tf.engine().runKernel<tf.Tensor[]>(
    MbqQuantizeActivationPerToken, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
}

/** Symmetric per-token quantization of x [..., K] (one scale per row of the last axis); returns the pseudo-quantized float. */
export function quantizeActivationPerToken(x: tf.Tensor, options: QuantizeActivationOptions): tf.Tensor {
  const [values, codes, scales] = run(x, options, 'quantizeActivationPerToken');
  codes.dispose();
  scales.dispose();
  return values;
}

/** As quantizeActivationPerToken, also returning the integer codes and the per-token scales. */
export function quantizeActivationPerTokenWithCodes(x: tf.Tensor, options: QuantizeActivationOptions): QuantizedActivation {
  const [values, codes, scales] = run(x, options, 'quantizeActivationPerTokenWithCodes');
  return { values, codes, scales };
}
