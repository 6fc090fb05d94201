/**
 * Ops and dispatches per decoded token (issue 17 target 5): loads each model directory with
 * loadVlm (KV cache on), runs a prefill and `steps` decode steps on a constant grey image, and
 * counts the tfjs kernels the decode steps run (tf.profile), and on webgpu the GPU programs they
 * dispatch (backend.runWebGPUProgram calls), per token: (run with N steps - run with 0 steps) / N.
 *
 *   bash scripts/opcount/build.sh && node scripts/opcount/dist/count.mjs [--backend cpu|wasm|webgpu] [--steps 4] [--json out.json] <modelDir>...
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { loadVlm, type Vlm } from '@tfjs-mbq/runtime';
import type { BackendName } from '@tfjs-mbq/ops/backends';

interface Counts { kernels: number; dispatches: number; byKernel: Map<string, number> }
export interface ModelCount {
  dir: string;
  decoding: string;
  kernelsPerToken: number;
  dispatchesPerToken: number | null;
  byKernelPerToken: Record<string, number>;
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

/** Kernels (and webgpu dispatches) of one timeDecode run with `steps` decode steps. */
async function countRun(vlm: Vlm, steps: number): Promise<Counts> {
  const [h, w] = vlm.config.imageSize;
  const image = { data: new Uint8Array(h * w * 4).fill(128), width: w, height: h };
  const backend = tf.backend() as unknown as { runWebGPUProgram?: (...args: unknown[]) => unknown };
  let dispatches = 0;
  const original = backend.runWebGPUProgram;
  if (original) backend.runWebGPUProgram = (...args: unknown[]) => { dispatches++; return original.apply(backend, args); };
  try {
    const info = await tf.profile(async () => { await vlm.timeDecode(image, 'what color is the shape ?', { steps }); });
    const byKernel = new Map<string, number>();
    for (const k of info.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + 1);
    return { kernels: info.kernels.length, dispatches, byKernel };
  } finally {
    if (original) backend.runWebGPUProgram = original;
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
      const byKernel: Record<string, number> = {};
      for (const [k, n] of many.byKernel) {
        const per = (n - (zero.byKernel.get(k) ?? 0)) / steps;
        if (per) byKernel[k] = per;
      }
      results.push({
        dir, decoding: vlm.decoding,
        kernelsPerToken: (many.kernels - zero.kernels) / steps,
        dispatchesPerToken: backend === 'webgpu' ? (many.dispatches - zero.dispatches) / steps : null,
        byKernelPerToken: Object.fromEntries(Object.entries(byKernel).sort((a, b) => b[1] - a[1])),
      });
    } finally {
      vlm.dispose();
    }
  }
  for (const r of results) {
    console.log(`${r.dir}: ${r.decoding}, ${r.kernelsPerToken} kernels/token${r.dispatchesPerToken === null ? '' : `, ${r.dispatchesPerToken} dispatches/token`}`);
    console.log(`  ${Object.entries(r.byKernelPerToken).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  }
  if (json) writeFileSync(json, JSON.stringify({ backend: tf.getBackend(), steps, results }, null, 2) + '\n');
}

main().catch((e: Error) => { console.error(`count: ${e.message}`); process.exit(1); });
