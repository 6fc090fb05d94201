/**
 * Which weight quantizer a config means, and the final (pseudo-)quantization of one weight.
 * Weight-only: asymmetric, group-wise along K (docs/algorithm.md §5). Weight-activation (aBits set):
 * symmetric per output channel, inputs quantized per token (docs/algorithm.md §6).
 */
import * as tf from '@tensorflow/tfjs-core';
import { MAX_WEIGHT_BITS, MIN_WEIGHT_BITS, weightBitsProblem } from '@tfjs-mbq/format';
import type { LinearOverride, QuantConfig } from './types.js';
import { fakeQuantActivationPerToken, fakeQuantWeightGroupwise, fakeQuantWeightPerChannel } from './quantizers.js';

export type WeightQuantizer =
  | { scheme: 'asym-group'; bits: number; groupSize: number }
  | { scheme: 'sym-channel'; bits: number; actBits: number };

const METHODS = ['rtn', 'awq', 'mbq', 'smoothquant'];

function checkBits(what: string, bits: unknown): void {
  if (weightBitsProblem(bits) !== undefined) {
    throw new Error(`quant config: ${what} must be an integer from ${MIN_WEIGHT_BITS} to ${MAX_WEIGHT_BITS}, got ${String(bits)}`);
  }
}

/** Throws a clear error for a config the search cannot run. */
export function validateQuantConfig(config: QuantConfig): void {
  if (!METHODS.includes(config.method)) {
    throw new Error(`quant config: method must be one of ${METHODS.join(', ')}, got '${String(config.method)}'`);
  }
  checkBits('wBits', config.wBits);
  if (config.aBits !== undefined) checkBits('aBits', config.aBits);
  if (config.aBits === undefined && config.method === 'smoothquant') {
    throw new Error("quant config: method 'smoothquant' is weight-activation only; set aBits (e.g. 8)");
  }
  if (config.aBits === undefined && (!Number.isInteger(config.groupSize) || config.groupSize < 1)) {
    throw new Error(`quant config: groupSize must be a positive integer, got ${String(config.groupSize)}`);
  }
  if (config.loss !== 'mae' && config.loss !== 'mse') {
    throw new Error(`quant config: loss must be 'mae' or 'mse', got '${String(config.loss)}'`);
  }
  if (!Number.isInteger(config.gridSize) || config.gridSize < 1) {
    throw new Error(`quant config: gridSize must be a positive integer, got ${String(config.gridSize)}`);
  }
}

/** The quantizer that applies to every LM linear under this config. */
export function weightQuantizer(config: QuantConfig): WeightQuantizer {
  validateQuantConfig(config);
  return config.aBits === undefined
    ? { scheme: 'asym-group', bits: config.wBits, groupSize: config.groupSize }
    : { scheme: 'sym-channel', bits: config.wBits, actBits: config.aBits };
}

/**
 * Pseudo-quantized float copy Q(W) of a weight [N, K] (what evaluation and `--emit float` use).
 * The caller owns the result.
 */
export function quantizeWeight(weight: tf.Tensor2D, quantizer: WeightQuantizer, label = 'weight'): tf.Tensor2D {
  if (weight.rank !== 2) throw new Error(`quantizeWeight(${label}): expected a 2-D weight [N, K], got shape [${weight.shape}]`);
  const k = weight.shape[1];
  if (quantizer.scheme === 'asym-group') {
    if (k % quantizer.groupSize !== 0) {
      throw new Error(`quantizeWeight(${label}): group size ${quantizer.groupSize} does not divide K = ${k}`);
    }
    return fakeQuantWeightGroupwise(weight, quantizer.bits, quantizer.groupSize);
  }
  return fakeQuantWeightPerChannel(weight, quantizer.bits);
}

/**
 * Output [T, N] of one linear under an override: x [T, K] · weightᵀ, where the weight is [N, K].
 * With `inputScale`/`actBits` the input is first divided by the scale and quantized per token.
 * Forward closures built by the graph side use this so that candidates mean the same thing everywhere.
 */
export function applyLinearOverride(x: tf.Tensor2D, override: LinearOverride): tf.Tensor2D {
  return tf.tidy(() => {
    let input = x;
    if (override.inputScale) input = tf.div(input, override.inputScale);
    if (override.actBits !== undefined) input = fakeQuantActivationPerToken(input, override.actBits);
    return tf.matMul(input, override.weight, false, true);
  });
}
