/**
 * The LM weights that a residual-stream rotation touches, in tfjs layout: a linear's weight is
 * [K, N] (in, out) and y = x · W; an RMSNorm's gamma is [D]. D = hidden size, F = MLP width.
 */
import type * as tf from '@tensorflow/tfjs-core';

export interface DecoderLayerWeights {
  /** input_layernorm gamma [D]. */
  inputNorm: tf.Tensor1D;
  /** Readers of the residual stream: [D, *]. */
  q: tf.Tensor2D;
  k: tf.Tensor2D;
  v: tf.Tensor2D;
  /** Writer into the residual stream: [*, D]; its bias [D], if any. */
  o: tf.Tensor2D;
  oBias?: tf.Tensor1D;
  /** post_attention_layernorm gamma [D]. */
  postNorm: tf.Tensor1D;
  gate: tf.Tensor2D;
  up: tf.Tensor2D;
  /** [F, D] and its bias [D], if any. */
  down: tf.Tensor2D;
  downBias?: tf.Tensor1D;
}

export interface LmWeightView {
  /** Token embedding table [V, D] (a writer: rows are residual vectors). */
  embedTokens: tf.Tensor2D;
  /** The projector's last linear, which writes the image tokens into the residual stream: [K, D], bias [D]. */
  visionOut?: { weight: tf.Tensor2D; bias?: tf.Tensor1D };
  layers: DecoderLayerWeights[];
  /** Final RMSNorm gamma [D]. */
  finalNorm: tf.Tensor1D;
  /** [D, V]; must be its own tensor (untie a tied head before rotating). */
  lmHead: tf.Tensor2D;
}
