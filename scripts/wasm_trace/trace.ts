/**
 * Where a decode step's time goes on a tfjs backend (issue 17, target 4), for one or more models
 * in one process, their rounds interleaved:
 *   npm run build && bash scripts/wasm_trace/build.sh
 *   node scripts/wasm_trace/dist/trace.mjs out/tiny-vlm-w4 fixtures/tiny-vlm [--backend wasm] [--rounds 8]
 * Per decode step (medians over rounds): wall and CPU time, kernels run, the time inside each
 * kernel by name, and what is left outside the kernels (graph executor, engine, tensor bookkeeping).
 * Kernel times come from wrapping every registered kernel of the backend with a clock, which adds
 * about a microsecond per kernel; the step times are measured in the same runs, so the split is
 * consistent, not exact. A decode step = timeDecode(steps=16) minus timeDecode(steps=0), over 16.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '@tfjs-mbq/ops/backends';
import type { Vlm } from '@tfjs-mbq/runtime';
import { loadImageAndModels, median, takeFlag } from './common.js';

const STEPS = 16;
const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => takeFlag(args, name, fallback);
const backendName = flag('--backend', 'wasm') as BackendName;
const rounds = Number(flag('--rounds', '8'));
const image = flag('--image', 'fixtures/shapes-vqa/eval/0000.png');
const question = flag('--question', 'what color is the object at the bottom right ?');
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be an integer >= 1, got ${rounds}`);
if (args.length === 0) throw new Error('usage: trace.mjs <modelDir> [<modelDir> ...] [--backend wasm] [--rounds 8]');

type Sample = Map<string, number>;
let current: Sample | null = null;

await initBackend(backendName);
const backend = tf.getBackend();
for (const config of tf.getKernelsForBackend(backend)) {
  const inner = config.kernelFunc;
  const name = config.kernelName;
  config.kernelFunc = (a) => {
    const s = current;
    if (!s) return inner(a);
    const t0 = performance.now();
    const out = inner(a);
    s.set(name, (s.get(name) ?? 0) + performance.now() - t0);
    s.set('#kernels', (s.get('#kernels') ?? 0) + 1);
    return out;
  };
}

const { img, models } = await loadImageAndModels(image, args);

async function run(m: Vlm, steps: number): Promise<Sample> {
  const s: Sample = new Map();
  current = s;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await m.timeDecode(img, question, { steps });
  s.set('#wall', performance.now() - t0);
  const c = process.cpuUsage(c0);
  s.set('#cpu', (c.user + c.system) / 1000);
  current = null;
  return s;
}

const perStep: Sample[][] = models.map(() => []);
for (const m of models) await run(m, 2); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const [i, m] of models.entries()) {
    const long = await run(m, STEPS);
    const short = await run(m, 0);
    const d: Sample = new Map();
    for (const [k, v] of long) d.set(k, (v - (short.get(k) ?? 0)) / STEPS);
    let inKernels = 0;
    for (const [k, v] of d) if (!k.startsWith('#')) inKernels += v;
    d.set('#in kernels', inKernels);
    d.set('#outside kernels', d.get('#wall')! - inKernels);
    perStep[i]!.push(d);
  }
}
for (const m of models) m.dispose();

const keys = new Set<string>();
for (const samples of perStep) for (const s of samples) for (const k of s.keys()) keys.add(k);
const col = (k: string): number[] => perStep.map((samples) => median(samples.map((s) => s.get(k) ?? 0)));
const head = ['#wall', '#cpu', '#kernels', '#in kernels', '#outside kernels'];
const kernels = [...keys].filter((k) => !k.startsWith('#')).sort((a, b) => Math.max(...col(b)) - Math.max(...col(a)));
const fmt = (k: string, v: number): string => (k === '#kernels' ? v.toFixed(0) : v.toFixed(3));
console.log(`backend ${backend}; per decode step, median of ${rounds} interleaved rounds (${STEPS} steps each); ms unless noted`);
console.log(['', ...args].map((s, i) => (i === 0 ? s.padEnd(28) : s.padStart(24))).join(''));
for (const k of [...head, ...kernels]) {
  const label = k === '#wall' ? 'step (wall)' : k === '#cpu' ? 'step (CPU time)' : k === '#kernels' ? 'kernels run (count)' : k.replace('#', '');
  console.log(label.padEnd(28) + col(k).map((v) => fmt(k, v).padStart(24)).join(''));
}
