/**
 * Per-group channel-scale search (docs/algorithm.md §4.3-4.4, §6), the way llm-awq's auto_scale.py
 * reads: activation statistic -> alpha grid -> candidate Q(W*s)/s -> loss on the compared module
 * -> keep the smallest. Methods: rtn (s = 1), awq (uniform loss), mbq (modality-weighted loss),
 * smoothquant (fixed alpha = 0.5, no search).
 */
import * as tf from '@tensorflow/tfjs-core';
import type {
  LinearOverride, QuantConfig, ScaleGroup, ScaleSearchLossKind, ScaleSearchResult, TokenWeighting,
} from './types.js';
import { modalityMse, modalityWeightedLoss, uniformLoss } from './quantizers.js';
import { quantizeWeight, validateQuantConfig, weightQuantizer, WeightQuantizer } from './weight_quant.js';
import { channelMaxima, smoothQuantScales, smoothQuantScalesFrom } from './smoothquant.js';

/** The loss a search minimises (mbq, awq) or, for rtn/smoothquant, reports (AWQ's uniform MSE). */
export function lossKindFor(config: QuantConfig): ScaleSearchLossKind {
  if (config.method === 'mbq') return config.loss === 'mae' ? 'mbq-mae' : 'mbq-mse';
  return 'uniform-mse';
}

/** s_x[c] = mean over all tokens of |X[:, c]| (AWQ's get_act_scale). */
export function meanAbsPerChannel(x: tf.Tensor2D): Float32Array {
  return tf.tidy(() => tf.mean(tf.abs(x), 0).dataSync() as Float32Array);
}

/**
 * Candidate scale for one alpha: s = max(s_x^alpha, 1e-4), then s / sqrt(max(s) * min(s)).
 * Computed in float64 on the host (K values) so every backend gets identical scales, then
 * rounded to float32 once.
 */
export function alphaScales(sx: Float32Array, alpha: number): Float32Array {
  const s = new Float64Array(sx.length);
  let max = -Infinity;
  let min = Infinity;
  for (let c = 0; c < sx.length; c++) {
    const v = Math.max(Math.pow(sx[c], alpha), 1e-4);
    s[c] = v;
    if (v > max) max = v;
    if (v < min) min = v;
  }
  const norm = Math.sqrt(max * min);
  const out = new Float32Array(sx.length);
  for (let c = 0; c < sx.length; c++) out[c] = s[c] / norm;
  return out;
}

/** The alpha grid i / gridSize, i = 0 .. gridSize - 1 (20 points: 0, 0.05, ..., 0.95). */
export function alphaGrid(gridSize: number): number[] {
  return Array.from({ length: gridSize }, (_, i) => i / gridSize);
}

/**
 * Overrides for one candidate scale s: weight-only Q(W*s)/s; weight-activation Q(W*s) with the
 * input divided by s and quantized per token. Tensors are created in the caller's scope.
 */
function candidateOverrides(
  group: ScaleGroup, s: tf.Tensor1D, quantizer: WeightQuantizer,
): Map<string, LinearOverride> {
  const overrides = new Map<string, LinearOverride>();
  for (const id of group.linears) {
    const w = group.weights.get(id) as tf.Tensor2D;
    const scaled = tf.mul(w, s) as tf.Tensor2D;
    const q = quantizeWeight(scaled, quantizer, `${group.name}/${id}`);
    if (quantizer.scheme === 'asym-group') {
      overrides.set(id, { weight: tf.div(q, s) as tf.Tensor2D });
    } else {
      overrides.set(id, { weight: q, inputScale: s, actBits: quantizer.actBits });
    }
  }
  return overrides;
}

function checkInputs(group: ScaleGroup, weighting: TokenWeighting, config: QuantConfig): void {
  const where = `searchGroupScale(${group.name})`;
  if (group.input.rank !== 2) throw new Error(`${where}: input must be [T, K], got [${group.input.shape}]`);
  const [t, k] = group.input.shape;
  if (group.linears.length === 0) throw new Error(`${where}: the group has no linears`);
  for (const id of group.linears) {
    const w = group.weights.get(id);
    if (!w) throw new Error(`${where}: no weight for linear '${id}'`);
    if (w.rank !== 2 || w.shape[1] !== k) {
      throw new Error(`${where}: weight of '${id}' is [${w.shape}], expected [N, ${k}] to match the input [${t}, ${k}]`);
    }
    if (config.aBits === undefined && k % config.groupSize !== 0) {
      throw new Error(`${where}: group size ${config.groupSize} does not divide K = ${k} of '${id}'`);
    }
  }
  if (group.reference.rank !== 2 || group.reference.shape[0] !== t) {
    throw new Error(`${where}: reference must be [${t}, C], got [${group.reference.shape}]`);
  }
  for (const [name, m] of [['visionMask', weighting.visionMask], ['captionMask', weighting.captionMask]] as const) {
    if (m.rank !== 1 || m.shape[0] !== t) throw new Error(`${where}: ${name} must be [${t}], got [${m.shape}]`);
  }
  if (!Number.isFinite(weighting.ratio) || weighting.ratio < 0) {
    throw new Error(`${where}: modality ratio must be a finite number >= 0, got ${weighting.ratio}`);
  }
  if (config.method === 'mbq') {
    const counted = tf.tidy(() => tf.sum(tf.add(tf.cast(weighting.visionMask, 'float32'), tf.cast(weighting.captionMask, 'float32'))).dataSync()[0]);
    if (counted === 0) throw new Error(`${where}: MBQ loss needs caption or vision positions; both masks are empty`);
  }
}

function groupWeights(group: ScaleGroup): tf.Tensor2D[] {
  return group.linears.map((id) => group.weights.get(id) as tf.Tensor2D);
}

/** The awq family (docs/algorithm.md §4.3): alpha -> normalised mean|X|^alpha. */
function awqCandidates(group: ScaleGroup): (alpha: number) => Float32Array {
  const sx = meanAbsPerChannel(group.input);
  return (alpha) => alphaScales(sx, alpha);
}

/** The smoothquant family: alpha -> max|X|^alpha / max|W|^(1 - alpha). */
function smoothQuantCandidates(group: ScaleGroup): (alpha: number) => Float32Array {
  const maxima = channelMaxima(group.input, groupWeights(group));
  return (alpha) => smoothQuantScalesFrom(maxima, alpha);
}

/**
 * Searches (or, for rtn/smoothquant, sets) the per-input-channel scale of one group.
 * Every tensor it creates is disposed before it returns; the caller keeps ownership of its inputs.
 */
export function searchGroupScale(group: ScaleGroup, weighting: TokenWeighting, config: QuantConfig): ScaleSearchResult {
  validateQuantConfig(config);
  checkInputs(group, weighting, config);
  const quantizer = weightQuantizer(config);
  const lossKind = lossKindFor(config);
  const k = group.input.shape[1];

  // Per-modality errors of every candidate, keyed by its loss index (diagnostics only).
  const mseAt: Array<[number, number]> = [];
  const lossAt = (scales: Float32Array, label: string): number => {
    const value = tf.tidy(() => {
      const s = tf.tensor1d(scales);
      const out = group.forward(candidateOverrides(group, s, quantizer));
      if (out.rank !== 2 || out.shape[0] !== group.reference.shape[0] || out.shape[1] !== group.reference.shape[1]) {
        throw new Error(`searchGroupScale(${group.name}): forward returned [${out.shape}], expected [${group.reference.shape}]`);
      }
      const loss = lossKind === 'uniform-mse'
        ? uniformLoss(group.reference, out)
        : modalityWeightedLoss(group.reference, out, weighting.visionMask, weighting.captionMask, weighting.ratio, config.loss);
      mseAt.push(modalityMse(group.reference, out, weighting.visionMask, weighting.captionMask));
      return loss.dataSync()[0];
    });
    if (!Number.isFinite(value)) throw new Error(`searchGroupScale(${group.name}): loss is ${value} at ${label}`);
    return value;
  };

  const ones = new Float32Array(k).fill(1);
  if (config.method === 'rtn') {
    const loss = lossAt(ones, 's = 1');
    return { group: group.name, scales: ones, alpha: 0, lossBefore: loss, lossAfter: loss, lossCurve: [], lossKind, modalityMse: { before: mseAt[0], after: mseAt[0] } };
  }
  if (config.method === 'smoothquant') {
    const alpha = 0.5;
    const scales = smoothQuantScales(group.input, groupWeights(group), alpha);
    const lossBefore = lossAt(ones, 's = 1');
    const lossAfter = lossAt(scales, 'the SmoothQuant scale');
    return { group: group.name, scales, alpha, lossBefore, lossAfter, lossCurve: [], lossKind, modalityMse: { before: mseAt[0], after: mseAt[1] } };
  }

  // awq / mbq: grid search over the scale family. In the awq family alpha = 0 gives s = 1
  // exactly, so lossCurve[0] is the RTN loss; the smoothquant family measures s = 1 first.
  const family = config.scaleFamily ?? 'awq';
  const candidate = family === 'awq' ? awqCandidates(group) : smoothQuantCandidates(group);
  const rtnLoss = family === 'awq' ? undefined : lossAt(ones, 's = 1');
  const first = mseAt.length; // index of lossCurve[0] in mseAt
  const lossCurve: number[] = [];
  let best = -1;
  let bestScales: Float32Array = ones;
  for (const alpha of alphaGrid(config.gridSize)) {
    const scales = candidate(alpha);
    const loss = lossAt(scales, `alpha ${alpha}`);
    lossCurve.push(loss);
    if (best < 0 || loss < lossCurve[best]) { // strict: ties keep the first
      best = lossCurve.length - 1;
      bestScales = scales;
    }
  }
  return {
    group: group.name, scales: bestScales, alpha: best / config.gridSize,
    lossBefore: rtnLoss ?? lossCurve[0], lossAfter: lossCurve[best], lossCurve, lossKind,
    modalityMse: { before: mseAt[0], after: mseAt[first + best] },
  };
}
