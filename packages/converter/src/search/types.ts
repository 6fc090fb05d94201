/**
 * The data the per-block scale search works on. The graph side (graph/, convert.ts) builds these
 * from cached block inputs; the search side (search/) knows nothing about graphs.
 */
import type * as tf from '@tensorflow/tfjs-core';

export type QuantMethod = 'rtn' | 'awq' | 'mbq' | 'smoothquant';
export type LossMode = 'mae' | 'mse';
/**
 * The candidate scales the AWQ/MBQ search tries over its alpha grid. `awq`: s = mean|X|^alpha,
 * normalised (docs/algorithm.md §4.3, the reference). `smoothquant`: s = max|X|^alpha / max|W|^(1-alpha)
 * (SmoothQuant's formula with alpha searched instead of fixed at 0.5).
 */
export type ScaleFamily = 'awq' | 'smoothquant';

export interface QuantConfig {
  method: QuantMethod;
  /** Weight bits, 2..8. */
  wBits: number;
  /** Group size along K for weight-only; ignored (per-channel) when aBits is set. */
  groupSize: number;
  /** Activation bits for weight-activation quantization (e.g. 8 for W4A8); undefined = weight-only. */
  aBits?: number;
  loss: LossMode;
  /** Feed each block the output of the already-quantized previous block (docs/algorithm.md §4.1 variant). */
  distort: boolean;
  /** Number of alpha grid points (docs/algorithm.md: 20, alpha = i / n). */
  gridSize: number;
  /** Candidate scale family of the awq/mbq search (default `awq`). */
  scaleFamily?: ScaleFamily;
}

/** What replaces one linear while a candidate is evaluated. Weight layout is [N, K] (out, in). */
export interface LinearOverride {
  /** Float weight to use (already scaled and pseudo-quantized, e.g. Q(W * s) / s). */
  weight: tf.Tensor2D;
  /**
   * Weight-activation only: the linear's input is divided by this per-channel scale [K]
   * and quantized per token with `actBits` before the matmul with `weight` (which is then Q(W * s)).
   */
  inputScale?: tf.Tensor1D;
  actBits?: number;
}

export type ScaleGroupName = 'attn-in' | 'attn-out' | 'mlp-in' | 'mlp-out';

/** One group of linears that share an input and a fold target (docs/algorithm.md §4, table). */
export interface ScaleGroup {
  name: ScaleGroupName;
  /** Ids of the scaled linears (graph node names of their MatMul). */
  linears: string[];
  /** Float weights of those linears, [N, K] each. */
  weights: Map<string, tf.Tensor2D>;
  /** The shared input X of the linears, all calibration tokens stacked: [T, K]. */
  input: tf.Tensor2D;
  /** Runs the compared module on its cached input with the overrides; returns its output [T, C]. */
  forward(overrides: Map<string, LinearOverride>): tf.Tensor2D;
  /** Float output of the compared module [T, C] (the reference O). */
  reference: tf.Tensor2D;
}

/** Per-token masks over the T stacked tokens (1 = in the set), and the block's modality ratio. */
export interface TokenWeighting {
  visionMask: tf.Tensor1D;
  captionMask: tf.Tensor1D;
  /** r from docs/algorithm.md §3 for this group (attention ratio for attn-*, MLP ratio for mlp-*). */
  ratio: number;
}

/** What lossBefore/lossAfter/lossCurve measure: MBQ's weighted loss, or AWQ's uniform mean D². */
export type ScaleSearchLossKind = 'mbq-mae' | 'mbq-mse' | 'uniform-mse';

export interface ScaleSearchResult {
  group: ScaleGroupName;
  /** The chosen per-input-channel scale s [K] (all ones for rtn). */
  scales: Float32Array;
  alpha: number;
  lossBefore: number;
  lossAfter: number;
  /** Loss at every alpha point, for the report. */
  lossCurve: number[];
  /**
   * Mean squared output error [vision, caption] per position set, at s = 1 and at the chosen
   * scale, whatever the method minimised (diagnostics for comparing methods).
   */
  modalityMse?: { before: [number, number]; after: [number, number] };
  /** Which loss the numbers above are (mbq: the configured MBQ loss; awq, rtn, smoothquant: uniform). */
  lossKind?: ScaleSearchLossKind;
}
