/**
 * Issue 12 §4 on the GPU machine: import a LLaVA-1.5-7B-shaped checkpoint and convert it (MBQ W3
 * g128, webgpu, resumable). Bundled by shared/device/pack.sh; docs/benchmarks.md says how it ran.
 *
 *   node llava7b.mjs import  <hfDir> <modelDir> <float32|float16> <log.jsonl>
 *   node llava7b.mjs convert <modelDir> <calibDir> <outDir> <workDir> <samples> <groupSize> <stopAfterSeconds> <tailSeconds> <log.jsonl>
 *
 * Each stage runs in its own process so that its peak RSS is its own. `convert` stops itself
 * cleanly (the work directory keeps every finished block) when the conversion cannot finish within
 * stopAfterSeconds: before each group it searches, it estimates the rest (the groups left at this
 * run's mean time per group, plus tailSeconds for the stages after the search: fold check,
 * quantize, evaluate, emit, which the work directory does not keep). If that fits, it goes on to the
 * end; if not, it searches while the next group still fits and then stops, so the next command
 * continues from there.
 */
import { appendFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { convert } from '@tfjs-mbq/converter';
import { importCheckpoint } from '@tfjs-mbq/importer';

const t0 = Date.now();
const seconds = (): number => (Date.now() - t0) / 1000;
const rssGiB = (): number => process.resourceUsage().maxRSS / 2 ** 20; // maxRSS is in KiB

function logger(file: string): (record: Record<string, unknown>) => void {
  return (record) => {
    const line = JSON.stringify({ t: Number(seconds().toFixed(2)), maxRssGiB: Number(rssGiB().toFixed(2)), ...record });
    appendFileSync(file, `${line}\n`);
    console.log(line);
  };
}

async function runImport(hfDir: string, modelDir: string, dtype: string, log: ReturnType<typeof logger>): Promise<void> {
  let last = 0;
  if (dtype !== 'float32' && dtype !== 'float16') throw new Error(`dtype must be float32 or float16, got ${dtype}`);
  const r = await importCheckpoint({
    hfDir, outDir: modelDir, dtype, shardBytes: 512 * 2 ** 20,
    onProgress: (e) => { if (seconds() - last > 10 || e.done === e.total) { last = seconds(); log({ stage: 'import', done: e.done, total: e.total }); } },
  });
  log({ stage: 'import', finished: true, dtype, seconds: seconds(), weights: r.weights, weightGiB: r.weightBytes / 2 ** 30, shards: r.shards });
}

async function runConvert(args: string[], log: ReturnType<typeof logger>): Promise<void> {
  const [modelDir, calibDir, outDir, workDir, samples, groupSize, stopAfterArg, tailArg] = args;
  const stopAfter = Number(stopAfterArg);
  const tail = Number(tailArg);
  let searchedGroups = 0;
  let firstSearchAt: number | undefined;
  const backend = await initBackend((process.env.MBQ_BACKEND ?? 'webgpu') as 'webgpu');
  log({ stage: 'backend', backend: backend.backend, detail: backend.detail });
  let peakGpu = 0;
  let stopped = false;
  const gpuBytes = (): number => {
    const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number; numBytesInGPUAllocated?: number };
    return m.numBytesInGPUAllocated ?? m.numBytesInGPU ?? 0;
  };
  try {
    const r = await convert({
      modelDir, calibDir, outDir, workDir, method: 'mbq', wBits: 3, groupSize: Number(groupSize), samples: Number(samples), seed: 0,
      onProgress: (e) => {
        peakGpu = Math.max(peakGpu, gpuBytes());
        if (e.stage === 'search' || e.done === 0 || e.done === e.total) {
          log({ stage: e.stage, done: e.done, total: e.total, detail: e.detail, gpuGiB: gpuBytes() / 2 ** 30, peakGpuGiB: peakGpu / 2 ** 30 });
        }
        if (e.stage === 'search' && e.done < e.total && !String(e.detail ?? '').includes('from the work directory')) {
          firstSearchAt ??= seconds();
          const perGroup = searchedGroups > 0 ? (seconds() - firstSearchAt) / searchedGroups : 0;
          searchedGroups++;
          const finishesAt = seconds() + (e.total - e.done) * perGroup + tail;
          if (finishesAt > stopAfter && seconds() + perGroup > stopAfter) {
            stopped = true;
            throw new Error(`stopped at ${seconds().toFixed(0)} s: ${e.total - e.done} groups left would end at ~${finishesAt.toFixed(0)} s (limit ${stopAfter} s)`);
          }
        }
      },
    });
    log({ stage: 'done', seconds: seconds(), timings: r.timings, weights: r.weights, evaluation: r.quantization.evaluation, peakGpuGiB: peakGpu / 2 ** 30 });
  } catch (e) {
    if (!stopped) throw e;
    log({ stage: 'stopped', seconds: seconds(), reason: (e as Error).message, peakGpuGiB: peakGpu / 2 ** 30, note: 'the work directory keeps the finished blocks; run again to continue' });
  }
}

const [cmd, ...rest] = process.argv.slice(2);
const log = logger(rest[rest.length - 1]);
if (cmd === 'import') await runImport(rest[0], rest[1], rest[2], log);
else if (cmd === 'convert') await runConvert(rest, log);
else throw new Error('usage: llava7b.mjs import <hfDir> <modelDir> <float32|float16> <log> | convert <modelDir> <calibDir> <outDir> <workDir> <samples> <groupSize> <stopAfterSeconds> <tailSeconds> <log>');
