/// <reference types="@webgpu/types" />
/**
 * Issue 17 target 6 (M=8 ≤ 1.5× M=1): GPU time per call of the W3 g128 kernel at M = 1 (the
 * gemv, unchanged) and M = 2, 4, 8 (the default plan: the smallm variant), against the gemv's
 * M = 8 (two chunks of 4 tokens, the default before smallm) in the same run, plus a small-M
 * tiling sweep at M = 8. Same method as matmul_bench.ts (recorded pass, timestamp queries,
 * weight copies rotated past the L2). Prints one table line per shape; JSON to $OUT.
 * `npm run bench -- small_m_bench` anywhere; BENCH_TINY=1 runs a toy shape (lavapipe smoke test);
 * on the GPU machine through packages/ops/bench/issue17_device.sh.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { wordsPerRow } from '../src/packing.js';
import { planQuantizedMatMul, QmmOptions, QmmPlan } from '../src/kernels/webgpu/quantized_matmul_plan.js';
import { buildSteps, QmmStep, recordSteps } from './recorded_qmm.js';
import { fillRandom, randomPackedWeights, setupGpu, storageBuffer } from './gpu_setup.js';
import { timeRecorded } from './gpu_timing.js';

const TINY = process.env.BENCH_TINY === '1';
const SHAPES = TINY
  ? [{ K: 512, N: 384 }]
  : (process.env.BENCH_SHAPES ?? '4096x4096,4096x11008,11008x4096,3584x18944').split(',').map((s) => {
    const [K, N] = s.split('x').map(Number);
    return { K, N };
  });
const BITS = 3;
const GROUP = 128;
const ROTATE_BYTES = 256 * 2 ** 20;
const OUT_DIR = process.env.OUT ?? 'bench-out';
/** The small-M tilings tried at M = 8 besides the default: [R, TS, WG]. */
const SWEEP: Array<[number, number, number]> = TINY ? [[2, 8, 128]]
  : [[1, 8, 128], [2, 8, 256], [2, 8, 128], [4, 8, 256], [1, 4, 256], [2, 4, 128]];

interface Row { K: number; N: number; M: number; what: string; gpuUs: number | null; wallUs: number; calls: number; plan: string }

async function main(): Promise<void> {
  const gpu = await setupGpu();
  const { device } = gpu;
  console.log(`adapter: ${gpu.adapterName}; timestamps ${gpu.hasTimestamps}`);
  if (!gpu.hasTimestamps) console.log('no timestamp queries: the figures are host wall time per call (CPU-emulated on lavapipe; not GPU speed)');
  const rows: Row[] = [];
  const lines: string[] = ['| K x N | M=1 gemv us | M=2 | M=4 | M=8 (default) | M=8 / M=1 | M=8 gemv before us | best sweep M=8 us (R,TS,WG) |', '|---|---|---|---|---|---|---|---|'];
  for (const { K, N } of SHAPES) {
    const words = wordsPerRow(K, BITS);
    const G = K / GROUP;
    const bytes = N * words * 4 + 2 * N * G * 4;
    const copies = Math.max(2, Math.min(48, Math.ceil(ROTATE_BYTES / bytes)));
    const w = randomPackedWeights(device, N, words, G, BITS, copies);
    const x = storageBuffer(device, 8 * K * 4);
    fillRandom(device, x, 8 * K, { kind: 'uniform', lo: -1, hi: 1 }, 7);
    const ys = Array.from({ length: 4 }, () => storageBuffer(device, 8 * N * 4));
    const attrs = { bits: BITS, groupSize: GROUP, inFeatures: K, actBits: 0 };
    const time = async (M: number, opts: QmmOptions, label: string): Promise<number> => {
      const plan: QmmPlan = planQuantizedMatMul({ M, N, K, groups: G, words }, attrs, opts);
      const steps: QmmStep[][] = w.map((b, c) => buildSteps(device, plan, { x, ...b, y: ys[c % ys.length] }));
      const t = await timeRecorded(device, (pass, i) => recordSteps(pass, steps[i % steps.length]), gpu.hasTimestamps);
      const tiling = plan.smallm ?? plan.gemv;
      const row = { K, N, M, what: label, gpuUs: t.gpuUs, wallUs: t.wallUs, calls: t.calls, plan: `${plan.variant} ${JSON.stringify(tiling)}` };
      rows.push(row);
      console.log(`${K}x${N} M=${M} ${label} [${row.plan}]: gpu ${t.gpuUs?.toFixed(2) ?? '-'} us, wall ${t.wallUs.toFixed(2)} us`);
      return t.gpuUs ?? t.wallUs;
    };
    const m1 = await time(1, {}, 'default');
    const m2 = await time(2, {}, 'default');
    const m4 = await time(4, {}, 'default');
    const m8 = await time(8, {}, 'default');
    // lavapipe takes minutes to compile the gemv's default R = 4 at 4 tokens: the smoke run uses R = 1.
    const gemv8 = await time(8, TINY ? { variant: 'gemv', gemvR: 1 } : { variant: 'gemv' }, `gemv (before smallm)${TINY ? ' R=1' : ''}`);
    let best = { us: Infinity, tiling: '' };
    for (const [R, TS, WG] of SWEEP) {
      const us = await time(8, { variant: 'smallm', smallmR: R, smallmTS: TS, smallmWG: WG }, `smallm sweep R=${R} TS=${TS} WG=${WG}`);
      if (us < best.us) best = { us, tiling: `${R},${TS},${WG}` };
    }
    lines.push(`| ${K}x${N} | ${m1.toFixed(1)} | ${m2.toFixed(1)} | ${m4.toFixed(1)} | ${m8.toFixed(1)} | ${(m8 / m1).toFixed(2)} | ${gemv8.toFixed(1)} | ${best.us.toFixed(1)} (${best.tiling}) |`);
    w.forEach((b) => { b.packed.destroy(); b.scales.destroy(); b.zeros.destroy(); });
    x.destroy();
    ys.forEach((y) => y.destroy());
  }
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, 'small_m_bench.json'), JSON.stringify({ date: new Date().toISOString(), adapter: gpu.adapterName, timestamps: gpu.hasTimestamps, rows }, null, 1));
  console.log(`# small-M bench (W3 g128), ${gpu.adapterName}, ${new Date().toISOString()}${gpu.hasTimestamps ? ', GPU µs per call' : ', host µs per call (no timestamps)'}`);
  console.log(lines.join('\n'));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
