/**
 * Child process of measure.ts: converts one model and reports its memory as one JSON line.
 * Peak RSS is the kernel's high-water mark (process.resourceUsage().maxRSS). The tfjs peaks are
 * exact: the engine's byte and tensor counts are sampled after every kernel and every tensor
 * creation (a wrapper on the engine instance; measurement only), and attributed to the stage
 * that was running.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '@tfjs-mbq/ops/backends';
import { convert, type Stage } from '@tfjs-mbq/converter';

interface Args {
  model: string; calib: string; out: string; backend: BackendName; samples: number; grid: number; method: 'mbq' | 'awq' | 'rtn'; bits: number;
  /** The converter's memoryLimits, in MiB (default: the converter's defaults). */
  limitsMB: Partial<Record<'logitsPassBytes' | 'headLogitsBytes' | 'spillAboveBytes', number>>;
}

/** Flags (MiB) of the converter's memoryLimits. */
export const LIMIT_FLAGS = [['logits-pass-mb', 'logitsPassBytes'], ['head-logits-mb', 'headLogitsBytes'], ['spill-above-mb', 'spillAboveBytes']] as const;

function parseArgs(argv: string[]): Args {
  const get = (k: string, d?: string): string => {
    const i = argv.indexOf(`--${k}`);
    if (i >= 0 && argv[i + 1] !== undefined) return argv[i + 1];
    if (d === undefined) throw new Error(`convert_one: --${k} is required`);
    return d;
  };
  return {
    model: get('model'), calib: get('calib'), out: get('out'), backend: get('backend', 'cpu') as BackendName,
    samples: Number(get('samples', '8')), grid: Number(get('grid', '20')), method: get('method', 'mbq') as Args['method'], bits: Number(get('bits', '3')),
    limitsMB: Object.fromEntries(LIMIT_FLAGS.filter(([flag]) => argv.includes(`--${flag}`)).map(([flag, key]) => [key, Number(get(flag))])),
  };
}

const MB = 1024 * 1024;

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  await initBackend(a.backend);
  const engine = tf.engine() as unknown as {
    state: { numBytes: number; numTensors: number };
    runKernelFunc: (...args: unknown[]) => unknown;
    makeTensor: (...args: unknown[]) => unknown;
  };
  let stage: Stage | 'start' = 'start';
  const peak = { bytes: 0, tensors: 0, stage: 'start' as string };
  const perStage: Record<string, { tfBytes: number; tensors: number }> = {};
  const sample = (): void => {
    const b = engine.state.numBytes;
    const s = (perStage[stage] ??= { tfBytes: 0, tensors: 0 });
    if (b > s.tfBytes) s.tfBytes = b;
    if (engine.state.numTensors > s.tensors) s.tensors = engine.state.numTensors;
    if (b > peak.bytes) { peak.bytes = b; peak.stage = stage; }
    if (engine.state.numTensors > peak.tensors) peak.tensors = engine.state.numTensors;
  };
  for (const m of ['runKernelFunc', 'makeTensor'] as const) {
    const orig = engine[m].bind(engine);
    engine[m] = (...args: unknown[]) => { const r = orig(...args); sample(); return r; };
  }
  const baseRss = process.memoryUsage().rss;
  const baseMaxRss = process.resourceUsage().maxRSS * 1024;
  const t0 = Date.now();
  const r = await convert({
    modelDir: a.model, calibDir: a.calib, outDir: a.out, samples: a.samples, gridSize: a.grid, seed: 0, method: a.method, wBits: a.bits,
    onProgress: (e) => { stage = e.stage; sample(); },
    memoryLimits: Object.fromEntries(Object.entries(a.limitsMB).map(([k, mb]) => [k, Math.round(mb * MB)])),
  });
  const seconds = (Date.now() - t0) / 1000;
  const after = tf.memory();
  process.stdout.write(JSON.stringify({
    backend: a.backend, model: a.model, method: a.method, bits: a.bits, samples: a.samples, grid: a.grid, seconds,
    blocks: r.quantization.blocks ?? null,
    rssBeforeMB: baseRss / MB, maxRssBeforeMB: baseMaxRss / MB, peakRssMB: (process.resourceUsage().maxRSS * 1024) / MB,
    peakTfMB: peak.bytes / MB, peakTfStage: peak.stage, peakTensors: peak.tensors,
    perStage: Object.fromEntries(Object.entries(perStage).map(([k, v]) => [k, { peakTfMB: v.tfBytes / MB, peakTensors: v.tensors }])),
    tensorsAfter: after.numTensors, tfBytesAfter: after.numBytes, timings: r.timings,
  }) + '\n');
}

main().catch((e: unknown) => { process.stderr.write(`${(e as Error).stack ?? String(e)}\n`); process.exit(1); });
