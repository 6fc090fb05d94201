/// <reference types="@webgpu/types" />
/**
 * `npm run bench` (matmul part): fused W3 dequant+matmul vs a raw read of the same bytes,
 * tfjs-webgpu float32 matMul and an fp16 GEMV, at LLaVA-7B and Qwen2-7B linear shapes,
 * M in {1, 4, 8, 16, 512}. Writes JSON to $OUT (or ./bench-out) and prints a table last.
 * Run on the GPU machine: ../shared/device/pack.sh packages/ops/bench/matmul_bench.ts, then
 * `source .device/setup.sh && node .device/matmul_bench.mjs`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quantizedMatMul } from '../src/index.js';
import { wordsPerRow } from '../src/packing.js';
import { defaultGemvConfig, planQuantizedMatMul, QmmPlan } from '../src/kernels/webgpu/quantized_matmul_plan.js';
import { act8Words } from '../src/kernels/webgpu/quantized_matmul_wgsl.js';
import { buildSteps, QmmStep, recordSteps } from './recorded_qmm.js';
import { fp16Gemv, rawRead, record, Dispatchable } from './baseline_kernels.js';
import { fillRandom, randomPackedWeights, setupGpu, storageBuffer } from './gpu_setup.js';
import { timeRecorded, timeTfjs, Timing } from './gpu_timing.js';

const SHAPES: Array<{ name: string; K: number; N: number; ortUs?: number }> = [
  { name: 'LLaVA-7B q/k/v/o', K: 4096, N: 4096, ortUs: 28 },
  { name: 'LLaVA-7B gate/up', K: 4096, N: 11008, ortUs: 80 },
  { name: 'LLaVA-7B down', K: 11008, N: 4096, ortUs: 70 },
  { name: 'Qwen2-7B q/o', K: 3584, N: 3584 },
  { name: 'Qwen2-7B gate/up', K: 3584, N: 18944, ortUs: 83 },
  { name: 'Qwen2-7B down', K: 18944, N: 3584 },
];
const MS = (process.env.BENCH_MS ?? '1,4,8,16,512').split(',').map(Number);
const BITS = 3;
const GROUP = 128;
/** Rotate weight copies until they cover this many bytes, so the 50 MB L2 cannot serve repeats. */
const ROTATE_BYTES = 256 * 2 ** 20;
const OUT_DIR = process.env.OUT ?? 'bench-out';
const QUICK = process.env.BENCH_QUICK === '1';

interface Row {
  shape: string; K: number; N: number; M: number; what: string; bytes: number; calls: number;
  gpuUs: number | null; wallUs: number; gbps: number; note?: string;
}

function copiesFor(bytes: number): number {
  return Math.max(2, Math.min(48, Math.ceil(ROTATE_BYTES / bytes)));
}

function perCall(t: Timing): number {
  return t.gpuUs ?? t.wallUs;
}

async function main(): Promise<void> {
  const gpu = await setupGpu();
  const { device } = gpu;
  console.log(`adapter: ${gpu.adapterName}; f16 ${gpu.hasF16}; timestamps ${gpu.hasTimestamps}; limits ${JSON.stringify(gpu.limits)}`);
  const rows: Row[] = [];
  const push = (r: Row): void => {
    rows.push(r);
    console.log(`${r.shape} M=${r.M} ${r.what}: gpu ${r.gpuUs?.toFixed(2) ?? '-'} us, wall ${r.wallUs.toFixed(2)} us, ${r.gbps.toFixed(0)} GB/s ${r.note ?? ''}`);
  };
  const sink = storageBuffer(device, 16);
  const shapes = process.env.BENCH_TINY === '1' ? [{ name: 'tiny', K: 512, N: 384 }] : QUICK ? SHAPES.slice(0, 1) : SHAPES;
  for (const s of shapes) {
    const { K, N } = s;
    const words = wordsPerRow(K, BITS);
    const G = K / GROUP;
    const w3Bytes = N * words * 4 + 2 * N * G * 4;
    const nW3 = copiesFor(w3Bytes);
    const w3 = randomPackedWeights(device, N, words, G, BITS, nW3);
    const maxM = Math.max(...MS);
    const x = storageBuffer(device, maxM * K * 4);
    fillRandom(device, x, maxM * K, { kind: 'uniform', lo: -1, hi: 1 }, 7);
    const ys = Array.from({ length: 4 }, () => storageBuffer(device, maxM * N * 4));
    const attrs = { bits: BITS, groupSize: GROUP, inFeatures: K, actBits: 0 };

    const timeW3 = async (M: number, plan: QmmPlan, label: string, note?: string): Promise<Timing> => {
      const steps: QmmStep[][] = w3.map((w, c) => buildSteps(device, plan, { x, ...w, y: ys[c % ys.length] }));
      const t = await timeRecorded(device, (pass, i) => recordSteps(pass, steps[i % steps.length]), gpu.hasTimestamps);
      push({ shape: s.name, K, N, M, what: label, bytes: w3Bytes, calls: t.calls, gpuUs: t.gpuUs, wallUs: t.wallUs, gbps: w3Bytes / perCall(t) / 1e3, note });
      return t;
    };

    // Raw read of exactly the W3 bytes (one buffer per copy, same rotation).
    const raws: Dispatchable[] = [];
    const rawBufs = Array.from({ length: nW3 }, (_, c) => {
      const b = storageBuffer(device, w3Bytes);
      fillRandom(device, b, Math.ceil(w3Bytes / 16) * 4, { kind: 'bits' }, 3000 + c);
      raws.push(rawRead(device, b, Math.ceil(w3Bytes / 16) * 16, sink));
      return b;
    });
    const tRaw = await timeRecorded(device, (pass, i) => record(pass, raws[i % raws.length]), gpu.hasTimestamps);
    push({ shape: s.name, K, N, M: 1, what: 'raw read (W3 bytes)', bytes: w3Bytes, calls: tRaw.calls, gpuUs: tRaw.gpuUs, wallUs: tRaw.wallUs, gbps: w3Bytes / perCall(tRaw) / 1e3 });
    rawBufs.forEach((b) => b.destroy());

    // W3 GEMV tiling sweep at M = 1 (the default is what the kernel uses).
    const dims1 = { M: 1, N, K, groups: G, words };
    const def = defaultGemvConfig({ bits: BITS, K, N, groupSize: GROUP }, 1);
    for (const [R, TS] of QUICK ? [[def.R, def.TS]] : [[1, 32], [2, 32], [4, 32], [2, 16], [4, 16], [8, 16]]) {
      const plan = planQuantizedMatMul(dims1, attrs, { variant: 'gemv', gemvR: R, gemvTS: TS });
      await timeW3(1, plan, `W3 gemv R=${R} TS=${TS}`, R === def.R && TS === def.TS ? '(default)' : '');
    }
    for (const M of QUICK ? [] : [4, 8]) {
      for (const R of [1, 4]) {
        const plan = planQuantizedMatMul({ ...dims1, M }, attrs, { variant: 'gemv', gemvR: R });
        await timeW3(M, plan, `W3 gemv sweep MT=${M} R=${R} TS=${plan.gemv!.TS} WG=${plan.gemv!.WG}`);
      }
    }
    for (const M of MS) {
      const plan = planQuantizedMatMul({ ...dims1, M }, attrs);
      const tokens = plan.gemv?.MT ?? plan.smallm?.MT;
      await timeW3(M, plan, `W3 ${plan.variant}${tokens ? ` MT=${tokens}` : ''}`);
    }
    // The same W3 op through tfjs (per call, with tfjs' JavaScript overhead), M = 1.
    {
      const xs = tf.randomUniform([1, K], -1, 1);
      const tens = w3.slice(0, Math.min(w3.length, 8)).map((w) => ({
        p: tf.tensor({ buffer: w.packed, zeroCopy: true }, [N, words], 'int32'),
        s: tf.tensor({ buffer: w.scales, zeroCopy: true }, [N, G], 'float32'),
        z: tf.tensor({ buffer: w.zeros, zeroCopy: true }, [N, G], 'float32'),
      }));
      const t = await timeTfjs((i) => {
        const w = tens[i % tens.length];
        return quantizedMatMul(xs, w.p, w.s, w.z, { bits: BITS, groupSize: GROUP, inFeatures: K });
      });
      push({ shape: s.name, K, N, M: 1, what: 'W3 via tfjs op (host time)', bytes: w3Bytes, calls: t.calls, gpuUs: null, wallUs: t.wallUs, gbps: w3Bytes / t.wallUs / 1e3 });
      tens.forEach((w) => { w.p.dispose(); w.s.dispose(); w.z.dispose(); });
      xs.dispose();
    }
    // W4A8 (4-bit per-channel weights, int8 activations), M = 1, for information.
    {
      const w4Words = wordsPerRow(K, 4);
      const w4Bytes = N * w4Words * 4 + 2 * N * 4;
      const n4 = copiesFor(w4Bytes);
      const w4 = Array.from({ length: n4 }, (_, c) => {
        const packed = storageBuffer(device, N * w4Words * 4);
        const scales = storageBuffer(device, N * 4);
        const zeros = storageBuffer(device, N * 4);
        fillRandom(device, packed, N * w4Words, { kind: 'bits' }, 4000 + c);
        fillRandom(device, scales, N, { kind: 'uniform', lo: 0.001, hi: 0.01 }, 5000 + c);
        fillRandom(device, zeros, N, { kind: 'integers', levels: 1 }, 6000 + c);
        return { packed, scales, zeros };
      });
      const xq = storageBuffer(device, (act8Words(K) + 1) * 4);
      const a8 = { bits: 4, groupSize: K, inFeatures: K, actBits: 8 };
      const plan = planQuantizedMatMul({ M: 1, N, K, groups: 1, words: w4Words }, a8);
      const steps = w4.map((w, c) => buildSteps(device, plan, { x, ...w, y: ys[c % ys.length], xq }));
      const t = await timeRecorded(device, (pass, i) => recordSteps(pass, steps[i % steps.length]), gpu.hasTimestamps);
      push({ shape: s.name, K, N, M: 1, what: `W4A8 gemv (act-quant + ${plan.nativeDot4 ? 'dot4I8Packed' : 'emulated dot4'})`, bytes: w4Bytes, calls: t.calls, gpuUs: t.gpuUs, wallUs: t.wallUs, gbps: w4Bytes / perCall(t) / 1e3 });
      w4.forEach((w) => { w.packed.destroy(); w.scales.destroy(); w.zeros.destroy(); });
      xq.destroy();
    }
    w3.forEach((w) => { w.packed.destroy(); w.scales.destroy(); w.zeros.destroy(); });

    // fp16 GEMV baseline (M = 1), tiling sweep R in {1, 2, 4}, and the raw read of its bytes.
    {
      const f16Bytes = N * K * 2;
      const n16 = copiesFor(f16Bytes);
      const wf16 = Array.from({ length: n16 }, (_, c) => {
        const b = storageBuffer(device, f16Bytes);
        fillRandom(device, b, f16Bytes / 4, { kind: 'f16', lo: -0.05, hi: 0.05 }, 7000 + c);
        return b;
      });
      for (const R of QUICK ? [2] : [1, 2, 4]) {
        const ds = wf16.map((b, c) => fp16Gemv(device, K, N, R, b, x, ys[c % ys.length], gpu.hasF16));
        const t = await timeRecorded(device, (pass, i) => record(pass, ds[i % ds.length]), gpu.hasTimestamps);
        push({ shape: s.name, K, N, M: 1, what: `fp16 gemv R=${R}${gpu.hasF16 ? ' (shader-f16)' : ' (unpack2x16float)'}`, bytes: f16Bytes, calls: t.calls, gpuUs: t.gpuUs, wallUs: t.wallUs, gbps: f16Bytes / perCall(t) / 1e3 });
      }
      const rr = wf16.map((b) => rawRead(device, b, f16Bytes, sink));
      const t = await timeRecorded(device, (pass, i) => record(pass, rr[i % rr.length]), gpu.hasTimestamps);
      push({ shape: s.name, K, N, M: 1, what: 'raw read (fp16 bytes)', bytes: f16Bytes, calls: t.calls, gpuUs: t.gpuUs, wallUs: t.wallUs, gbps: f16Bytes / perCall(t) / 1e3 });
      wf16.forEach((b) => b.destroy());
    }

    // tfjs-webgpu float32 matMul: x [M, K] · W [K, N], host time per call, queued, one readback.
    {
      const f32Bytes = N * K * 4;
      const n32 = copiesFor(f32Bytes);
      const bufs = Array.from({ length: n32 }, (_, c) => {
        const b = storageBuffer(device, f32Bytes);
        fillRandom(device, b, N * K, { kind: 'uniform', lo: -0.05, hi: 0.05 }, 8000 + c);
        return b;
      });
      const ws = bufs.map((b) => tf.tensor({ buffer: b, zeroCopy: true }, [K, N], 'float32'));
      for (const M of MS) {
        const xm = tf.randomUniform([M, K], -1, 1);
        const t = await timeTfjs((i) => tf.matMul(xm, ws[i % ws.length]), M >= 512 ? 200 : 30);
        push({ shape: s.name, K, N, M, what: 'tfjs float32 matMul (host time)', bytes: f32Bytes, calls: t.calls, gpuUs: null, wallUs: t.wallUs, gbps: f32Bytes / t.wallUs / 1e3 });
        xm.dispose();
      }
      ws.forEach((w) => w.dispose());
      bufs.forEach((b) => b.destroy());
    }
    x.destroy();
    ys.forEach((y) => y.destroy());
  }
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, 'matmul_bench.json'), JSON.stringify({ date: new Date().toISOString(), adapter: gpu.adapterName, rows }, null, 1));
  summarize(rows, gpu.adapterName);
}

function summarize(rows: Row[], adapter: string): void {
  const find = (shape: string, M: number, re: RegExp): Row | undefined => rows.find((r) => r.shape === shape && r.M === M && re.test(r.what));
  const best = (shape: string, re: RegExp): Row | undefined =>
    rows.filter((r) => r.shape === shape && r.M === 1 && re.test(r.what)).sort((a, b) => perCall(a as unknown as Timing) - perCall(b as unknown as Timing))[0];
  const us = (r?: Row): string => (r ? (r.gpuUs ?? r.wallUs).toFixed(1) : '-');
  const lines = [`# matmul bench, ${adapter}, ${new Date().toISOString()}`,
    '| shape | W3 M=1 us | GB/s | raw us | W3/raw BW | fp16 us | f32 tfjs us | x f32 | x fp16 | ORT/4 us | M=8/M=1 | W3 M=4,16,512 us |'];
  for (const s of [...SHAPES, { name: 'tiny', K: 512, N: 384, ortUs: undefined }]) {
    const w3 = find(s.name, 1, /^W3 gemv MT=1/);
    const w3best = best(s.name, /^W3 gemv R=/);
    if (!w3) continue;
    const raw = find(s.name, 1, /raw read \(W3/);
    const f16 = best(s.name, /^fp16 gemv/);
    const f32 = find(s.name, 1, /tfjs float32/);
    // The default plan's rows ("W3 gemv|smallm MT=<tokens per chunk>"), not the tiling sweep's.
    const byDefault = (M: number): Row | undefined => find(s.name, M, M >= 512 ? /^W3 gemm/ : /^W3 (gemv|smallm) MT=\d+$/);
    const m8 = byDefault(8);
    const t = (r?: Row): number => (r ? (r.gpuUs ?? r.wallUs) : NaN);
    lines.push(`| ${s.name} ${s.K}x${s.N} | ${us(w3)} (sweep best ${us(w3best)}) | ${w3.gbps.toFixed(0)} | ${us(raw)} | ${(t(raw) / t(w3) * 100).toFixed(0)}% | ${us(f16)} | ${us(f32)} | ${(t(f32) / t(w3)).toFixed(1)} | ${(t(f16) / t(w3)).toFixed(2)} | ${s.ortUs ? (s.ortUs / 4).toFixed(1) : '-'} | ${(t(m8) / t(w3)).toFixed(2)} | ${[4, 16, 512].map((M) => us(byDefault(M))).join(', ')} |`);
  }
  console.log(lines.join('\n'));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
