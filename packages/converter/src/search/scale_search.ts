/**
 * Per-group channel-scale search (docs/algorithm.md §4.3-4.4, §6), the way llm-awq's auto_scale.py
 * reads: activation statistic -> alpha grid -> candidate Q(W*s)/s -> loss on the compared module
 * -> keep the smallest. Methods: rtn (s = 1), awq (uniform loss), mbq (modality-weighted loss),
 * smoothquant (fixed alpha = 0.5, no search).
 *
 * Device reads are asynchronous (tfjs-webgpu cannot read synchronously in Node) and batched: one
 * read of the group's statistics, one read of every candidate's loss after all were queued.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {
  LinearOverride, QuantConfig, ScaleGroup, ScaleSearchLossKind, ScaleSearchResult, TokenWeighting,
} from './types.js';
import { modalityMse, modalityWeightedLoss, uniformLoss } from './quantizers.js';
import { quantizeWeight, validateQuantConfig, weightQuantizer, WeightQuantizer } from './weight_quant.js';
import { channelMaximaFrom, channelMaximaTensor, smoothQuantScalesFrom, type ChannelMaxima } from './smoothquant.js';

/** The loss a search minimises (mbq, awq) or, for rtn/smoothquant, reports (AWQ's uniform MSE). */
export function lossKindFor(config: QuantConfig): ScaleSearchLossKind {
  if (config.method === 'mbq') return config.loss === 'mae' ? 'mbq-mae' : 'mbq-mse';
  return 'uniform-mse';
}

/**
 * s_x[c] = mean over all tokens of |X[:, c]| (AWQ's get_act_scale), summed in float64 on the host
 * from X's values ([rows, k] row-major): a backend's float32 tf.mean (wasm: up to 20 ulp off) can
 * move the losses by more than the margin between the best alphas, so every backend must start
 * from the same statistic.
 */
export function meanAbsPerChannel(values: ArrayLike<number>, k: number): Float64Array {
  const rows = values.length / k;
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`meanAbsPerChannel: ${values.length} values are not rows of ${k} channels`);
  const sum = new Float64Array(k);
  for (let r = 0; r < rows; r++) {
    const base = r * k;
    for (let c = 0; c < k; c++) sum[c] += Math.abs(values[base + c]);
  }
  for (let c = 0; c < k; c++) sum[c] /= rows;
  return sum;
}

/**
 * Candidate scale for one alpha: s = max(s_x^alpha, 1e-4), then s / sqrt(max(s) * min(s)).
 * Computed in float64 on the host (K values) so every backend gets identical scales, then
 * rounded to float32 once.
 */
export function alphaScales(sx: ArrayLike<number>, alpha: number): Float32Array {
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
}

function groupWeights(group: ScaleGroup): tf.Tensor2D[] {
  return group.linears.map((id) => group.weights.get(id) as tf.Tensor2D);
}

/** What a group's candidates are built from (only the parts its method and family need). */
interface GroupStatistics {
  /** mean |X| per channel (awq family), float64 from the host. */
  meanAbs?: Float64Array;
  /** max |X| and max |W| per channel (smoothquant method and family). */
  maxima?: ChannelMaxima;
  /** Positions MBQ's loss counts (vision + caption). */
  weightedTokens?: number;
}

/** Computes the statistics on the device and reads them (and X for mean|X|) together. */
async function readStatistics(group: ScaleGroup, weighting: TokenWeighting, config: QuantConfig): Promise<GroupStatistics> {
  const k = group.input.shape[1];
  const family = config.scaleFamily ?? 'awq';
  const wantMeanAbs = (config.method === 'awq' || config.method === 'mbq') && family === 'awq';
  const wantMaxima = config.method === 'smoothquant' || ((config.method === 'awq' || config.method === 'mbq') && family === 'smoothquant');
  const wantCount = config.method === 'mbq';
  // mean|X| is taken on the host in float64 (meanAbsPerChannel): X itself is read, alongside the rest.
  const input = wantMeanAbs ? group.input.data() : undefined;
  if (!wantMaxima && !wantCount) return { meanAbs: input ? meanAbsPerChannel(await input, k) : undefined };
  const packed = tf.tidy(() => tf.concat([
    ...(wantMaxima ? [tf.reshape(channelMaximaTensor(group.input, groupWeights(group)), [-1])] : []),
    ...(wantCount ? [tf.reshape(tf.sum(tf.add(tf.cast(weighting.visionMask, 'float32'), tf.cast(weighting.captionMask, 'float32'))), [1])] : []),
  ]));
  const [values, x] = await Promise.all([packed.data() as Promise<Float32Array>, input]);
  packed.dispose();
  let at = 0;
  const take = (n: number): Float32Array => values.slice(at, (at += n));
  return {
    meanAbs: x ? meanAbsPerChannel(x, k) : undefined,
    maxima: wantMaxima ? channelMaximaFrom(take(2 * k), k) : undefined,
    weightedTokens: wantCount ? take(1)[0] : undefined,
  };
}

/** One candidate scale and what to call it in an error. */
interface Candidate {
  label: string;
  scales: Float32Array;
}

/** Losses and per-modality errors of every candidate, in candidate order. */
interface CandidateLosses {
  loss: number[];
  modalityMse: Array<[number, number]>;
}

/**
 * Queues every candidate's forward pass and loss on the device, then reads all losses at once
 * (per candidate: [loss, vision MSE, caption MSE]). Only scalars outlive each candidate's scope.
 */
async function evaluateCandidates(
  group: ScaleGroup, weighting: TokenWeighting, config: QuantConfig, quantizer: WeightQuantizer, candidates: Candidate[],
): Promise<CandidateLosses> {
  const lossKind = lossKindFor(config);
  const perCandidate: tf.Tensor1D[] = [];
  let values: Float32Array;
  try {
    for (const c of candidates) {
      perCandidate.push(tf.tidy(() => {
        const s = tf.tensor1d(c.scales);
        const out = group.forward(candidateOverrides(group, s, quantizer));
        if (out.rank !== 2 || out.shape[0] !== group.reference.shape[0] || out.shape[1] !== group.reference.shape[1]) {
          throw new Error(`searchGroupScale(${group.name}): forward returned [${out.shape}], expected [${group.reference.shape}]`);
        }
        const loss = lossKind === 'uniform-mse'
          ? uniformLoss(group.reference, out)
          : modalityWeightedLoss(group.reference, out, weighting.visionMask, weighting.captionMask, weighting.ratio, config.loss);
        return tf.concat([tf.reshape(loss, [1]), modalityMse(group.reference, out, weighting.visionMask, weighting.captionMask)]) as tf.Tensor1D;
      }));
    }
    const all = tf.concat(perCandidate);
    values = await all.data() as Float32Array;
    all.dispose();
  } finally {
    tf.dispose(perCandidate);
  }
  const loss = candidates.map((_, i) => values[3 * i]);
  loss.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new Error(`searchGroupScale(${group.name}): loss is ${v} at ${candidates[i].label}`);
  });
  return { loss, modalityMse: candidates.map((_, i) => [values[3 * i + 1], values[3 * i + 2]]) };
}

/**
 * Searches (or, for rtn/smoothquant, sets) the per-input-channel scale of one group.
 * Every tensor it creates is disposed before it returns; the caller keeps ownership of its inputs.
 */
export async function searchGroupScale(group: ScaleGroup, weighting: TokenWeighting, config: QuantConfig): Promise<ScaleSearchResult> {
  validateQuantConfig(config);
  checkInputs(group, weighting, config);
  const quantizer = weightQuantizer(config);
  const lossKind = lossKindFor(config);
  const k = group.input.shape[1];
  const stats = await readStatistics(group, weighting, config);
  if (stats.weightedTokens === 0) {
    throw new Error(`searchGroupScale(${group.name}): MBQ loss needs caption or vision positions; both masks are empty`);
  }
  const ones = new Float32Array(k).fill(1);

  if (config.method === 'rtn') {
    const { loss, modalityMse: mse } = await evaluateCandidates(group, weighting, config, quantizer, [{ label: 's = 1', scales: ones }]);
    return { group: group.name, scales: ones, alpha: 0, lossBefore: loss[0], lossAfter: loss[0], lossCurve: [], lossKind, modalityMse: { before: mse[0], after: mse[0] } };
  }
  if (config.method === 'smoothquant') {
    const alpha = 0.5;
    const scales = smoothQuantScalesFrom(stats.maxima!, alpha);
    const { loss, modalityMse: mse } = await evaluateCandidates(group, weighting, config, quantizer, [
      { label: 's = 1', scales: ones }, { label: 'the SmoothQuant scale', scales },
    ]);
    return { group: group.name, scales, alpha, lossBefore: loss[0], lossAfter: loss[1], lossCurve: [], lossKind, modalityMse: { before: mse[0], after: mse[1] } };
  }

  // awq / mbq: grid search over the scale family. In the awq family alpha = 0 gives s = 1
  // exactly, so lossCurve[0] is the RTN loss; the smoothquant family measures s = 1 first.
  const family = config.scaleFamily ?? 'awq';
  const candidateAt = (alpha: number): Float32Array => family === 'awq'
    ? alphaScales(stats.meanAbs!, alpha)
    : smoothQuantScalesFrom(stats.maxima!, alpha);
  const grid = alphaGrid(config.gridSize);
  const candidates: Candidate[] = [
    ...(family === 'awq' ? [] : [{ label: 's = 1', scales: ones }]),
    ...grid.map((alpha) => ({ label: `alpha ${alpha}`, scales: candidateAt(alpha) })),
  ];
  const { loss, modalityMse: mse } = await evaluateCandidates(group, weighting, config, quantizer, candidates);
  const first = family === 'awq' ? 0 : 1; // index of lossCurve[0] among the candidates
  const lossCurve = loss.slice(first);
  let best = 0;
  for (let i = 1; i < lossCurve.length; i++) if (lossCurve[i] < lossCurve[best]) best = i; // strict: ties keep the first
  return {
    group: group.name, scales: candidates[first + best].scales, alpha: best / config.gridSize,
    lossBefore: loss[0], lossAfter: lossCurve[best], lossCurve, lossKind,
    modalityMse: { before: mse[0], after: mse[first + best] },
  };
}
