/**
 * QuaRot-style rotation of the LM (docs/algorithm.md §6): exact in float, it removes activation
 * outliers before the search.
 *  1. Fold every RMSNorm gamma into the linears that read the norm (rows of q/k/v, gate/up,
 *     lm_head scaled by gamma; gamma -> ones), so the norm commutes with the rotation
 *     (RMSNorm(x Q) = RMSNorm(x) Q for orthonormal Q when gamma = 1).
 *  2. Rotate the residual stream by an orthonormal Q [D, D] (a Hadamard matrix with random
 *     signs on its rows): readers W <- Qᵀ W, writers W <- W Q (o, down, embeddings, the
 *     projector's output weight and bias).
 *  3. Rotate the down_proj input by the orthonormal Hadamard H_F: down <- H_Fᵀ down; the graph
 *     side inserts x · H_F in front of down_proj, so (x H_F)(H_Fᵀ down) = x down.
 * All returned tensors are new and owned by the caller; the input view is left untouched.
 */
import * as tf from '@tensorflow/tfjs-core';
import { hadamardConstruction, hadamardMatrix } from '../search/quantizers.js';
import type { DecoderLayerWeights, LmWeightView } from './types.js';
import { mulberry32 } from '@tfjs-mbq/ops';

export interface RotateOptions {
  /** Seed of the random ±1 signs of Q (deterministic). Default 0. */
  seed?: number;
  /** Multiply the Hadamard matrix by random ±1 signs (QuaRot's random Hadamard). Default true. */
  randomSigns?: boolean;
  /** Also rotate the down_proj input with H_F. Default true. */
  rotateDownInput?: boolean;
}

export interface RotatedLm {
  weights: LmWeightView;
  /** Q [D, D] applied to the residual stream. */
  residualRotation: tf.Tensor2D;
  /** H_F [F, F] that the graph must apply to the down_proj input (x · H_F); null if not rotated. */
  downInputRotation: tf.Tensor2D | null;
  /** How each Hadamard matrix was built (block-diagonal when `exact` is false), for the report. */
  residualHadamard: { size: number; construction: string; exact: boolean };
  downHadamard: { size: number; construction: string; exact: boolean } | null;
}

/** Q = diag(signs) · H, orthonormal; signs all +1 when randomSigns is off. */
export function residualRotationMatrix(d: number, seed = 0, randomSigns = true): tf.Tensor2D {
  return tf.tidy(() => {
    const h = hadamardMatrix(d);
    if (!randomSigns) return h;
    const rand = mulberry32(seed);
    const signs = new Float32Array(d);
    for (let i = 0; i < d; i++) signs[i] = rand() < 0.5 ? -1 : 1;
    return tf.mul(h, tf.tensor2d(signs, [d, 1])) as tf.Tensor2D;
  });
}

function expectShape(label: string, t: tf.Tensor, shape: Array<number | null>): void {
  const ok = t.rank === shape.length && shape.every((s, i) => s === null || s === t.shape[i]);
  if (!ok) throw new Error(`rotateLm: ${label} has shape [${t.shape}], expected [${shape.map((s) => s ?? '*')}]`);
}

export function rotateLm(view: LmWeightView, options: RotateOptions = {}): RotatedLm {
  const d = view.embedTokens.shape[1];
  expectShape('embedTokens', view.embedTokens, [null, d]);
  expectShape('finalNorm', view.finalNorm, [d]);
  expectShape('lmHead', view.lmHead, [d, null]);
  if (view.lmHead === (view.embedTokens as tf.Tensor)) throw new Error('rotateLm: lmHead is tied to embedTokens; untie it first');
  if (view.visionOut) {
    expectShape('visionOut.weight', view.visionOut.weight, [null, d]);
    if (view.visionOut.bias) expectShape('visionOut.bias', view.visionOut.bias, [d]);
  }
  const f = view.layers.length > 0 ? view.layers[0].down.shape[0] : 0;
  view.layers.forEach((l, i) => {
    const at = (n: string): string => `layers[${i}].${n}`;
    expectShape(at('inputNorm'), l.inputNorm, [d]);
    expectShape(at('postNorm'), l.postNorm, [d]);
    for (const n of ['q', 'k', 'v'] as const) expectShape(at(n), l[n], [d, null]);
    expectShape(at('o'), l.o, [null, d]);
    expectShape(at('gate'), l.gate, [d, f]);
    expectShape(at('up'), l.up, [d, f]);
    expectShape(at('down'), l.down, [f, d]);
    if (l.oBias) expectShape(at('oBias'), l.oBias, [d]);
    if (l.downBias) expectShape(at('downBias'), l.downBias, [d]);
  });

  const rotateDown = options.rotateDownInput ?? true;
  const q = residualRotationMatrix(d, options.seed ?? 0, options.randomSigns ?? true);
  const hf = rotateDown && f > 0 ? hadamardMatrix(f) : null;
  const ones = (): tf.Tensor1D => tf.ones([d]);
  // Reader: Qᵀ · diag(gamma) · W.
  const reader = (w: tf.Tensor2D, gamma: tf.Tensor1D): tf.Tensor2D =>
    tf.tidy(() => tf.matMul(q, tf.mul(w, tf.reshape(gamma, [d, 1])), true, false));
  const writer = (w: tf.Tensor2D): tf.Tensor2D => tf.matMul(w, q);
  const writerBias = (b: tf.Tensor1D | undefined): tf.Tensor1D | undefined =>
    b ? tf.tidy(() => tf.reshape(tf.matMul(tf.reshape(b, [1, d]), q), [d])) : undefined;

  const layers = view.layers.map((l): DecoderLayerWeights => ({
    inputNorm: ones(),
    q: reader(l.q, l.inputNorm),
    k: reader(l.k, l.inputNorm),
    v: reader(l.v, l.inputNorm),
    o: writer(l.o),
    oBias: writerBias(l.oBias),
    postNorm: ones(),
    gate: reader(l.gate, l.postNorm),
    up: reader(l.up, l.postNorm),
    down: tf.tidy((): tf.Tensor2D => {
      const w = tf.matMul<tf.Tensor2D>(l.down, q);
      return hf ? tf.matMul<tf.Tensor2D>(hf, w, true, false) : w;
    }),
    downBias: writerBias(l.downBias),
  }));
  const weights: LmWeightView = {
    embedTokens: writer(view.embedTokens),
    visionOut: view.visionOut
      ? { weight: writer(view.visionOut.weight), bias: writerBias(view.visionOut.bias) }
      : undefined,
    layers,
    finalNorm: ones(),
    lmHead: reader(view.lmHead, view.finalNorm),
  };
  return {
    weights, residualRotation: q, downInputRotation: hf,
    residualHadamard: { size: d, ...hadamardConstruction(d) },
    downHadamard: hf ? { size: f, ...hadamardConstruction(f) } : null,
  };
}
