/**
 * Ops and dispatches per decoded token (issue 17 target 5): loads each model directory with
 * loadVlm (KV cache on), runs a prefill and `steps` decode steps on a constant grey image, and
 * counts the tfjs kernels the decode steps run (tf.profile), and on webgpu the compute dispatches
 * they record (every dispatchWorkgroups, tfjs's or a kernel's own) in a second run without
 * tf.profile: under it our kernels leave the direct path for runWebGPUProgram (direct_dispatch.ts),
 * which takes two dispatches where MbqAddRmsNorm's direct path takes one. Per token: (run with N
 * steps - run with 0 steps) / N.
 *
 *   bash scripts/opcount/build.sh && node scripts/opcount/dist/count.mjs [--backend cpu|wasm|webgpu] [--steps 4] [--json out.json] <modelDir>...
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { loadVlm, type Vlm } from '@tfjs-mbq/runtime';
import type { BackendName } from '@tfjs-mbq/ops/backends';

interface Counts { kernels: number; dispatches: number; byKernel: Map<string, number>; dispatchesByKernel: Map<string, number> }
export interface ModelCount {
  dir: string;
  decoding: string;
  kernelsPerToken: number;
  dispatchesPerToken: number | null;
  byKernelPerToken: Record<string, number>;
  /** webgpu: dispatches per token by the kernel that recorded them ('(none)': outside any kernel). */
  dispatchesByKernelPerToken: Record<string, number> | null;
}

function usage(problem: string): never {
  console.error(`count: ${problem}\nusage: node scripts/opcount/dist/count.mjs [--backend cpu|wasm|webgpu] [--steps N] [--json FILE] <modelDir>...`);
  process.exit(2);
}

function parseArgs(argv: string[]): { backend: BackendName; steps: number; json?: string; dirs: string[] } {
  let backend: BackendName = 'cpu';
  let steps = 4;
  let json: string | undefined;
  const dirs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--backend') backend = (argv[++i] ?? usage('--backend needs a value')) as BackendName;
    else if (a === '--steps') steps = Number(argv[++i]);
    else if (a === '--json') json = argv[++i] ?? usage('--json needs a file');
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else dirs.push(a);
  }
  if (!['cpu', 'wasm', 'webgpu'].includes(backend)) usage(`--backend must be cpu, wasm or webgpu, got ${backend}`);
  if (!Number.isInteger(steps) || steps < 1) usage(`--steps must be a positive integer, got ${steps}`);
  if (!dirs.length) usage('give at least one model directory');
  return { backend, steps, json, dirs };
}

type Fn = (...args: unknown[]) => unknown;

/**
 * Counts compute dispatches on the webgpu backend's device: every `dispatchWorkgroups` of every
 * compute pass, whether tfjs recorded it (runWebGPUProgram) or a kernel did directly (our direct
 * dispatch), each under the name of the registered kernel running when it was recorded (every
 * kernel function of the backend wrapped). Returns the counter and the undo.
 */
function countDispatches(backend: object): { count: () => number; byKernel: () => Map<string, number>; restore: () => void } {
  let n = 0;
  const byKernel = new Map<string, number>();
  let running = '(none)';
  const device = (backend as { device?: Record<string, unknown> }).device;
  const create = device?.createCommandEncoder as Fn | undefined;
  if (!device || !create) return { count: () => 0, byKernel: () => byKernel, restore: () => {} };
  const kernels = tf.getKernelsForBackend(tf.getBackend()).map((k) => ({ k, fn: k.kernelFunc }));
  for (const { k, fn } of kernels) {
    k.kernelFunc = (args) => {
      const outer = running;
      running = k.kernelName;
      try { return fn(args); } finally { running = outer; }
    };
  }
  device.createCommandEncoder = function (this: unknown, ...a: unknown[]) {
    const enc = create.apply(this, a) as Record<string, unknown>;
    const begin = enc.beginComputePass as Fn;
    enc.beginComputePass = function (this: unknown, ...b: unknown[]) {
      const pass = begin.apply(this, b) as Record<string, unknown>;
      const dispatch = pass.dispatchWorkgroups as Fn;
      pass.dispatchWorkgroups = function (this: unknown, ...c: unknown[]) {
        n++;
        byKernel.set(running, (byKernel.get(running) ?? 0) + 1);
        return dispatch.apply(this, c);
      };
      return pass;
    };
    return enc;
  };
  return {
    count: () => n,
    byKernel: () => byKernel,
    restore: () => {
      device.createCommandEncoder = create;
      for (const { k, fn } of kernels) k.kernelFunc = fn;
    },
  };
}

/** Kernels (tf.profile) of one timeDecode run with `steps` decode steps, and the webgpu dispatches of another, unprofiled. */
async function countRun(vlm: Vlm, steps: number): Promise<Counts> {
  const [h, w] = vlm.config.imageSize;
  const image = { data: new Uint8Array(h * w * 4).fill(128), width: w, height: h };
  const decode = async (): Promise<void> => { await vlm.timeDecode(image, 'what color is the shape ?', { steps }); };
  const info = await tf.profile(decode);
  const byKernel = new Map<string, number>();
  for (const k of info.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + 1);
  // The previous run ended reading a token back (a submit), so this run's passes are on new encoders.
  const counter = countDispatches(tf.backend());
  try {
    await decode();
    return { kernels: info.kernels.length, dispatches: counter.count(), byKernel, dispatchesByKernel: counter.byKernel() };
  } finally {
    counter.restore();
  }
}

async function main(): Promise<void> {
  const { backend, steps, json, dirs } = parseArgs(process.argv.slice(2));
  const results: ModelCount[] = [];
  for (const dir of dirs) {
    const vlm = await loadVlm(dir, { backend });
    try {
      await countRun(vlm, 1); // warm-up (shader compiles, lazy uploads)
      const zero = await countRun(vlm, 0);
      const many = await countRun(vlm, steps);
      const perToken = (a: Map<string, number>, b: Map<string, number>): Record<string, number> => {
        const out: Record<string, number> = {};
        for (const [k, n] of a) {
          const per = (n - (b.get(k) ?? 0)) / steps;
          if (per) out[k] = per;
        }
        return Object.fromEntries(Object.entries(out).sort((x, y) => y[1] - x[1]));
      };
      results.push({
        dir, decoding: vlm.decoding,
        kernelsPerToken: (many.kernels - zero.kernels) / steps,
        dispatchesPerToken: backend === 'webgpu' ? (many.dispatches - zero.dispatches) / steps : null,
        byKernelPerToken: perToken(many.byKernel, zero.byKernel),
        dispatchesByKernelPerToken: backend === 'webgpu' ? perToken(many.dispatchesByKernel, zero.dispatchesByKernel) : null,
      });
    } finally {
      vlm.dispose();
    }
  }
  for (const r of results) {
    console.log(`${r.dir}: ${r.decoding}, ${r.kernelsPerToken} kernels/token${r.dispatchesPerToken === null ? '' : `, ${r.dispatchesPerToken} dispatches/token`}`);
    console.log(`  ${Object.entries(r.byKernelPerToken).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    if (r.dispatchesByKernelPerToken) console.log(`  dispatches: ${Object.entries(r.dispatchesByKernelPerToken).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  }
  if (json) writeFileSync(json, JSON.stringify({ backend: tf.getBackend(), steps, results }, null, 2) + '\n');
}

main().catch((e: Error) => { console.error(`count: ${e.message}`); process.exit(1); });
