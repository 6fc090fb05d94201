/**
 * Modality sensitivity (docs/algorithm.md §3): for each calibration sample, the gradient of the mean
 * caption cross-entropy with respect to zero additive probes on every block's o_proj and down_proj
 * outputs; g_vis / g_txt = mean |grad| over vision / caption positions and channels, averaged over
 * samples; ratio = g_vis / g_txt, clamped from below by the (lower) median across blocks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { clampByMedian } from './median.js';
import { ensureGradients } from './gradients.js';
import type { ScaleGroupName } from '../search/types.js';

export type ProbeSite = 'attn' | 'mlp';

/** One probe: added to the output [seq, channels] of a block's o_proj (attn) or down_proj (mlp). */
export interface ProbeSpec {
  name: string;
  block: number;
  site: ProbeSite;
  channels: number;
}

/** Per-sample position masks (length = sequence length; nonzero = in the set). */
export interface SensitivitySample {
  visionMask: ArrayLike<number>;
  captionMask: ArrayLike<number>;
}

/**
 * Runs the float model on sample `sampleIndex` with each probe added to its site's output and
 * returns the mean caption cross-entropy (see captionCrossEntropy). Must be differentiable in the probes.
 */
export type LossWithProbes = (sampleIndex: number, probes: Map<string, tf.Tensor2D>) => tf.Scalar;

export interface SiteSensitivity {
  /** Mean |dLoss/dY| over vision positions and channels, averaged over samples. */
  gVis: number;
  /** The same over caption positions. */
  gTxt: number;
  /** gVis / gTxt. */
  ratio: number;
  /** max(ratio, median over blocks of this site). */
  clamped: number;
}

export interface BlockSensitivity {
  block: number;
  attn: SiteSensitivity;
  mlp: SiteSensitivity;
}

export interface SensitivityResult {
  /** Sorted by block index; ratioAttn[i] etc. belong to blocks[i]. */
  blocks: BlockSensitivity[];
  ratioAttn: number[];
  ratioMlp: number[];
  clampedAttn: number[];
  clampedMlp: number[];
  /** Lower median (torch.median) of the raw ratios across blocks. */
  medianAttn: number;
  medianMlp: number;
  samples: number;
}

export interface SensitivityOptions {
  /** Called after each sample (for progress bars). */
  onSample?: (done: number, total: number) => void;
}

function checkSpecs(specs: ProbeSpec[]): number[] {
  if (specs.length === 0) throw new Error('measureSensitivity: no probes');
  const seen = new Set<string>();
  const sites = new Map<number, Set<ProbeSite>>();
  for (const s of specs) {
    if (seen.has(s.name)) throw new Error(`measureSensitivity: probe name '${s.name}' appears twice`);
    seen.add(s.name);
    if (!Number.isInteger(s.channels) || s.channels < 1) throw new Error(`measureSensitivity: probe '${s.name}' has ${s.channels} channels`);
    if (s.site !== 'attn' && s.site !== 'mlp') throw new Error(`measureSensitivity: probe '${s.name}' has unknown site '${String(s.site)}'`);
    const have = sites.get(s.block) ?? new Set<ProbeSite>();
    if (have.has(s.site)) throw new Error(`measureSensitivity: block ${s.block} has two '${s.site}' probes`);
    have.add(s.site);
    sites.set(s.block, have);
  }
  const blocks = [...sites.keys()].sort((a, b) => a - b);
  for (const b of blocks) {
    if (sites.get(b)?.size !== 2) throw new Error(`measureSensitivity: block ${b} needs both an 'attn' and an 'mlp' probe`);
  }
  return blocks;
}

function toMask(m: ArrayLike<number>): { column: Float32Array; count: number } {
  const column = new Float32Array(m.length);
  let count = 0;
  for (let i = 0; i < m.length; i++) if (m[i]) { column[i] = 1; count++; }
  return { column, count };
}

export async function measureSensitivity(
  samples: SensitivitySample[], lossWithProbes: LossWithProbes, probeSpecs: ProbeSpec[],
  options: SensitivityOptions = {},
): Promise<SensitivityResult> {
  ensureGradients();
  const blockIds = checkSpecs(probeSpecs);
  if (samples.length === 0) throw new Error('measureSensitivity: no calibration samples');
  const p = probeSpecs.length;
  const visSum = new Float64Array(p);
  const txtSum = new Float64Array(p);
  let visSamples = 0;
  let txtSamples = 0;

  for (const [i, sample] of samples.entries()) {
    const seq = sample.visionMask.length;
    if (sample.captionMask.length !== seq) {
      throw new Error(`measureSensitivity: sample ${i} has visionMask of length ${seq} but captionMask of length ${sample.captionMask.length}`);
    }
    const vis = toMask(sample.visionMask);
    const txt = toMask(sample.captionMask);
    if (txt.count === 0) throw new Error(`measureSensitivity: sample ${i} has no caption position`);
    const sumsTensor = tf.tidy(() => {
      const probes = probeSpecs.map((s) => tf.zeros([seq, s.channels]) as tf.Tensor2D);
      const f = (...xs: tf.Tensor[]): tf.Tensor => {
        const loss = lossWithProbes(i, new Map(probeSpecs.map((s, j) => [s.name, xs[j] as tf.Tensor2D])));
        if (loss.rank !== 0) throw new Error(`measureSensitivity: the loss for sample ${i} is not a scalar (shape [${loss.shape}])`);
        return loss;
      };
      let grads: tf.Tensor[];
      try {
        grads = tf.grads(f)(probes);
      } catch (e) {
        throw new Error(`measureSensitivity: gradient for sample ${i} failed (is every probe added into the model?): ${(e as Error).message}`);
      }
      const vm = tf.tensor2d(vis.column, [seq, 1]);
      const cm = tf.tensor2d(txt.column, [seq, 1]);
      return tf.stack(grads.map((g, j) => {
        if (g.shape[0] !== seq || g.shape[1] !== probeSpecs[j].channels) {
          throw new Error(`measureSensitivity: gradient of probe '${probeSpecs[j].name}' has shape [${g.shape}]`);
        }
        const a = tf.abs(g);
        return tf.stack([tf.sum(tf.mul(a, vm)), tf.sum(tf.mul(a, cm))]);
      }));
    });
    const sums = await sumsTensor.data(); // one read per sample: [probes, 2]
    sumsTensor.dispose();
    for (let j = 0; j < p; j++) {
      const c = probeSpecs[j].channels;
      if (vis.count > 0) visSum[j] += sums[2 * j] / (vis.count * c);
      txtSum[j] += sums[2 * j + 1] / (txt.count * c);
    }
    if (vis.count > 0) visSamples++;
    txtSamples++;
    options.onSample?.(i + 1, samples.length);
  }
  if (visSamples === 0) throw new Error('measureSensitivity: no sample has vision positions');

  const site = (block: number, s: ProbeSite): { gVis: number; gTxt: number; ratio: number } => {
    const j = probeSpecs.findIndex((x) => x.block === block && x.site === s);
    const gVis = visSum[j] / visSamples;
    const gTxt = txtSum[j] / txtSamples;
    if (!(gTxt > 0)) throw new Error(`measureSensitivity: block ${block} ${s}: the caption gradient is ${gTxt}; the ratio is undefined`);
    return { gVis, gTxt, ratio: gVis / gTxt };
  };
  const attn = blockIds.map((b) => site(b, 'attn'));
  const mlp = blockIds.map((b) => site(b, 'mlp'));
  const ca = clampByMedian(attn.map((x) => x.ratio));
  const cmlp = clampByMedian(mlp.map((x) => x.ratio));
  return {
    blocks: blockIds.map((block, i) => ({
      block,
      attn: { ...attn[i], clamped: ca.clamped[i] },
      mlp: { ...mlp[i], clamped: cmlp.clamped[i] },
    })),
    ratioAttn: attn.map((x) => x.ratio),
    ratioMlp: mlp.map((x) => x.ratio),
    clampedAttn: ca.clamped,
    clampedMlp: cmlp.clamped,
    medianAttn: ca.median,
    medianMlp: cmlp.median,
    samples: samples.length,
  };
}

/**
 * The clamped ratio r that weighs a group's search (docs/algorithm.md §3.5): the attention ratio for
 * attn-in/attn-out (q/k/v and o), the MLP ratio for mlp-in/mlp-out (gate/up and down).
 */
export function groupRatio(result: SensitivityResult, block: number, group: ScaleGroupName): number {
  const b = result.blocks.find((x) => x.block === block);
  if (!b) throw new Error(`groupRatio: no sensitivity measured for block ${block}`);
  return group === 'attn-in' || group === 'attn-out' ? b.attn.clamped : b.mlp.clamped;
}
