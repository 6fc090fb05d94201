/**
 * Modality sensitivity (docs/algorithm.md §3) over padded chunks of samples: one backward pass per chunk
 * instead of one per sample. Samples in a causal batch are independent, so the gradient of the sum
 * of per-sample losses with respect to a probe's row b is exactly sample b's own gradient; the
 * averaging and median clamp are those of sensitivity/measureSensitivity (checked in the tests).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphExecutor } from '../graph/executor.js';
import type { GraphAnalysis } from '../graph/analysis.js';
import type { CalibSample } from '../calib/load.js';
import { makeBatch, batchFeeds } from '../calib/batch.js';
import { clampByMedian, ensureGradients, type SensitivityResult, type SiteSensitivity } from './index.js';
import type { ModelIo } from '../graph/model_io.js';

/** Sum over samples of each sample's mean next-token cross-entropy of its caption tokens (read one position earlier). */
function summedCaptionLoss(logits: tf.Tensor, samples: readonly CalibSample[], seqLen: number): tf.Scalar {
  const V = logits.shape[logits.rank - 1];
  // Dense target weights [B*S, V] instead of a gather: wasm has no kernel for gather's gradient.
  const target = new Float32Array(samples.length * seqLen * V);
  samples.forEach((s, b) => {
    let count = 0;
    for (let p = 1; p < s.inputIds.length; p++) if (s.captionMask[p]) count++;
    for (let p = 1; p < s.inputIds.length; p++) {
      if (s.captionMask[p]) target[(b * seqLen + p - 1) * V + s.inputIds[p]] = 1 / count;
    }
  });
  const logp = tf.logSoftmax(tf.reshape(logits, [-1, V]));
  return tf.neg(tf.sum(tf.mul(logp, tf.tensor2d(target, [samples.length * seqLen, V])))) as tf.Scalar;
}

export async function batchedSensitivity(
  exec: GraphExecutor, analysis: GraphAnalysis, io: ModelIo, samples: readonly CalibSample[], imageSize: [number, number],
  padId: number, chunk: number, onSample?: (done: number, total: number) => void,
): Promise<SensitivityResult> {
  ensureGradients();
  const first = analysis.blocks[0];
  const sideNames = [...new Set(analysis.blocks.flatMap((b) => b.sideInputs))];
  const sites = analysis.blocks.flatMap((b) => [
    { node: b.o, block: b.index, site: 'attn' as const, C: analysis.linears.get(b.o)!.N },
    { node: b.down, block: b.index, site: 'mlp' as const, C: analysis.linears.get(b.down)!.N },
  ]);
  const visSum = new Float64Array(sites.length);
  const txtSum = new Float64Array(sites.length);
  let visSamples = 0; let txtSamples = 0;
  for (let start = 0; start < samples.length; start += chunk) {
    const part = samples.slice(start, start + chunk);
    const batch = makeBatch(part, imageSize, padId);
    const S = batch.seqLen;
    const sumsTensor = tf.tidy(() => {
      const feeds = batchFeeds(batch);
      const pre = exec.execute({ [io.inputIds]: feeds.input_ids, [io.pixelValues]: feeds.pixel_values }, [first.input, ...sideNames]);
      const blockFeeds = new Map<string, tf.Tensor>([[first.input, pre[0]], ...sideNames.map((n, j) => [n, pre[j + 1]] as [string, tf.Tensor])]);
      const probes = sites.map((s) => tf.zeros([part.length, S, s.C]));
      const grads = tf.grads((...xs: tf.Tensor[]) => {
        const add = new Map(sites.map((s, j) => [s.node, xs[j]]));
        const [logits] = exec.execute(blockFeeds, [io.logits], { addToOutput: add, tidy: false });
        return summedCaptionLoss(logits, part, S);
      })(probes);
      // Per sample and site: sum |g| over vision rows and over caption rows.
      const vis = new Float32Array(part.length * S); const txt = new Float32Array(part.length * S);
      part.forEach((s, b) => { for (let p = 0; p < s.inputIds.length; p++) { vis[b * S + p] = s.visionMask[p] ? 1 : 0; txt[b * S + p] = s.captionMask[p] ? 1 : 0; } });
      const vm = tf.tensor3d(vis, [part.length, S, 1]); const tm = tf.tensor3d(txt, [part.length, S, 1]);
      return tf.stack(grads.map((g) => {
        const a = tf.abs(g);
        return tf.stack([tf.sum(tf.mul(a, vm), [1, 2]), tf.sum(tf.mul(a, tm), [1, 2])], 1);
      })); // [sites, B, 2]
    });
    const sums = await sumsTensor.data();
    sumsTensor.dispose();
    part.forEach((s, b) => {
      let nv = 0; let nt = 0;
      for (let p = 0; p < s.inputIds.length; p++) { if (s.visionMask[p]) nv++; if (s.captionMask[p]) nt++; }
      sites.forEach((site, j) => {
        const base = (j * part.length + b) * 2;
        if (nv > 0) visSum[j] += sums[base] / (nv * site.C);
        txtSum[j] += sums[base + 1] / (nt * site.C);
      });
      if (nv > 0) visSamples++;
      txtSamples++;
    });
    onSample?.(Math.min(samples.length, start + chunk), samples.length);
    // Let SIGINT/SIGTERM handlers run between chunks.
    await new Promise((r) => setImmediate(r));
  }
  if (visSamples === 0) throw new Error('sensitivity: no calibration sample has vision positions');
  const site = (j: number): { gVis: number; gTxt: number; ratio: number } => {
    const gVis = visSum[j] / visSamples; const gTxt = txtSum[j] / txtSamples;
    if (!(gTxt > 0)) throw new Error(`sensitivity: block ${sites[j].block} ${sites[j].site}: the caption gradient is ${gTxt}; the ratio is undefined`);
    return { gVis, gTxt, ratio: gVis / gTxt };
  };
  const attn = analysis.blocks.map((_, i) => site(2 * i));
  const mlp = analysis.blocks.map((_, i) => site(2 * i + 1));
  const ca = clampByMedian(attn.map((x) => x.ratio));
  const cm = clampByMedian(mlp.map((x) => x.ratio));
  const withClamp = (x: { gVis: number; gTxt: number; ratio: number }, c: number): SiteSensitivity => ({ ...x, clamped: c });
  return {
    blocks: analysis.blocks.map((b, i) => ({ block: b.index, attn: withClamp(attn[i], ca.clamped[i]), mlp: withClamp(mlp[i], cm.clamped[i]) })),
    ratioAttn: attn.map((x) => x.ratio), ratioMlp: mlp.map((x) => x.ratio),
    clampedAttn: ca.clamped, clampedMlp: cm.clamped, medianAttn: ca.median, medianMlp: cm.median, samples: samples.length,
  };
}
