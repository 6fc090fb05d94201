/**
 * Modality sensitivity (docs/algorithm.md §3) over padded chunks of samples: one backward pass per chunk
 * instead of one per sample, block by block (streamed.ts). Samples in a causal batch are independent,
 * so the gradient of the sum of per-sample losses with respect to a probe's row b is exactly sample
 * b's own gradient; the averaging and median clamp are those of sensitivity/measureSensitivity
 * (checked in the tests).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphExecutor } from '../graph/executor.js';
import type { GraphAnalysis } from '../graph/analysis.js';
import type { CalibSample } from '../calib/load.js';
import { makeBatch, batchFeeds } from '../calib/batch.js';
import { clampByMedian, ensureGradients, type SensitivityResult, type SiteSensitivity } from './index.js';
import type { ModelIo } from '../graph/model_io.js';
import { streamedSiteSums } from './streamed.js';
import { watchDevice } from './device_watch.js';
import { DEFAULT_MEMORY_LIMITS, type MemoryLimits } from '../memory_limits.js';

export async function batchedSensitivity(
  exec: GraphExecutor, analysis: GraphAnalysis, io: ModelIo, samples: readonly CalibSample[], imageSize: [number, number],
  padId: number, chunk: number, onSample?: (done: number, total: number, detail?: string) => void,
  memory: MemoryLimits = DEFAULT_MEMORY_LIMITS,
): Promise<SensitivityResult> {
  ensureGradients();
  const sites = analysis.blocks.flatMap((b) => [
    { block: b.index, site: 'attn' as const, C: analysis.linears.get(b.o)!.N },
    { block: b.index, site: 'mlp' as const, C: analysis.linears.get(b.down)!.N },
  ]);
  const visSum = new Float64Array(sites.length);
  const txtSum = new Float64Array(sites.length);
  let visSamples = 0; let txtSamples = 0;
  const device = watchDevice('sensitivity');
  try {
    for (let start = 0; start < samples.length; start += chunk) {
      const part = samples.slice(start, start + chunk);
      // Each pass over a block reported as it ends: a 7B chunk takes minutes.
      const range = `samples ${start + 1}-${start + part.length}`;
      const watch = { ...device, run: async <T>(where: string, work: () => Promise<T>): Promise<T> => {
        const r = await device.run(where, work);
        onSample?.(start, samples.length, `${range}: ${where}`);
        return r;
      } };
      const batch = makeBatch(part, imageSize, padId);
      const feeds = batchFeeds(batch);
      let sums: Float32Array;
      try {
        const inputs = new Map<string, tf.Tensor>([[io.inputIds, feeds.input_ids], [io.pixelValues, feeds.pixel_values]]);
        sums = await streamedSiteSums(exec, analysis, io, { feeds: inputs, samples: part, seqLen: batch.seqLen }, watch, memory);
      } finally {
        tf.dispose([feeds.input_ids, feeds.pixel_values]);
      }
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
  } finally {
    device.dispose();
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
