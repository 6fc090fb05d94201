/// <reference types="@webgpu/types" />
/**
 * Issue 17, target 1: what one W3 M=1 `quantizedMatMul` costs through tfjs on webgpu, for the
 * kernel before issue 17 (legacy_qmm_kernel.ts: WGSL and a pass of its own per call), the same
 * programs through backend.runWebGPUProgram ('program') and recorded directly into tfjs's pass
 * (direct_dispatch.ts, the default), in one process, trials alternating. Per shape and path, BENCH_CALLS calls are queued and read back once; per call:
 *  - enqueue: JavaScript time of the loop (the host cost of a call),
 *  - wall: loop start to readback done (what queued calls cost; at least the GPU time),
 *  - kernel GPU: the same program recorded BENCH_CALLS times into one pass outside tfjs,
 *    timestamps around the pass (recorded_qmm.ts); tfjs kernel: tf.time's kernelMs per call
 *    (each program timed in a pass of its own inside tfjs), where the device has timestamps,
 * and a trace of one more trial per path: tfjs engine time around the kernel, JavaScript inside
 * the kernel, every WebGPU call (calls and µs per op call), WGSL generations, pipelines made.
 * A one-dispatch tfjs op (tf.add on [1, N]) gives tfjs's own per-op floor on the machine.
 * Weight copies rotate (≥ 256 MiB, BENCH_COPIES overrides) so that the L2 cannot serve repeats.
 * Env: BENCH_SHAPES (KxN,...; default the LLaMA-7B linears), BENCH_CALLS (200), BENCH_TRIALS (5),
 * BENCH_SUBMIT_BATCH (tfjs's WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE; default tfjs's 15): set it above
 * BENCH_CALLS to keep submits out of the loop, so that enqueue is recording alone (on a software
 * adapter such as lavapipe a submit runs the queued work on the CPU and would count as host time).
 * Writes op_path_bench.json to $OUT; prints a table last.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quantizedMatMul } from '../src/index.js';
import { MbqQuantizedMatMul } from '../src/kernel_names.js';
import { wordsPerRow } from '../src/packing.js';
import { quantizedMatMulWebGPU, setQuantizedMatMulWebGPUOptions } from '../src/kernels/webgpu/quantized_matmul.js';
import { planQuantizedMatMul } from '../src/kernels/webgpu/quantized_matmul_plan.js';
import { QuantizedMatMulProgram } from '../src/kernels/webgpu/quantized_matmul_programs.js';
import { fillRandom, randomPackedWeights, setupGpu, storageBuffer } from './gpu_setup.js';
import { timeRecorded } from './gpu_timing.js';
import { legacyQuantizedMatMulWebGPU } from './legacy_qmm_kernel.js';
import { buildSteps, recordSteps } from './recorded_qmm.js';
import { formatTrace, instrumentWebGPU, median, traced, TraceEntry, trial } from './host_timing.js';

const SHAPES = (process.env.BENCH_SHAPES ?? '4096x4096,4096x11008,11008x4096').split(',').map((s) => s.split('x').map(Number));
const CALLS = Number(process.env.BENCH_CALLS ?? 200);
const TRIALS = Number(process.env.BENCH_TRIALS ?? 5);
const BITS = 3;
const GROUP = 128;
const OUT_DIR = process.env.OUT ?? 'bench-out';

type PathName = 'legacy' | 'program' | 'direct' | 'tfjs add (floor)';
const QMM_PATHS = ['legacy', 'program', 'direct'] as const;

interface PathResult {
  path: PathName;
  enqueueUs: number[];
  wallUs: number[];
  trace?: { enqueueUs: number; kernelUs: number; webgpu: Record<string, TraceEntry>; wgslBuilds: number };
}
interface ShapeResult { K: number; N: number; copies: number; kernelGpuUs: number | null; recordedWallUs: number; tfjsKernelUs: number | null; paths: PathResult[] }

let wgslBuilds = 0;
const userCode = QuantizedMatMulProgram.prototype.getUserCode;
QuantizedMatMulProgram.prototype.getUserCode = function (this: QuantizedMatMulProgram): string {
  wgslBuilds++;
  return userCode.call(this);
};
let kernelUs = 0;
let timingKernel = false;
function useKernel(fn: tf.KernelFunc): void {
  tf.unregisterKernel(MbqQuantizedMatMul, 'webgpu');
  tf.registerKernel({
    kernelName: MbqQuantizedMatMul, backendName: 'webgpu',
    kernelFunc: (args) => {
      if (!timingKernel) return fn(args);
      const t0 = performance.now();
      const r = fn(args);
      kernelUs += (performance.now() - t0) * 1000;
      return r;
    },
  });
}

async function main(): Promise<void> {
  const gpu = await setupGpu();
  const { device } = gpu;
  instrumentWebGPU();
  // Small tensors that live on the CPU would otherwise run tf.add on the CPU (the floor path).
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (process.env.BENCH_SUBMIT_BATCH) tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', Number(process.env.BENCH_SUBMIT_BATCH));
  const batch = tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE');
  console.log(`adapter: ${gpu.adapterName}; timestamps ${gpu.hasTimestamps}; calls ${CALLS}; trials ${TRIALS}; submit batch ${batch}`);
  const kernels: Record<(typeof QMM_PATHS)[number], tf.KernelFunc> = { legacy: legacyQuantizedMatMulWebGPU, program: quantizedMatMulWebGPU, direct: quantizedMatMulWebGPU };
  const results: ShapeResult[] = [];
  for (const [K, N] of SHAPES) {
    const words = wordsPerRow(K, BITS);
    const G = K / GROUP;
    const bytes = N * words * 4 + 2 * N * G * 4;
    const copies = Number(process.env.BENCH_COPIES ?? Math.max(2, Math.min(48, Math.ceil((256 * 2 ** 20) / bytes))));
    const bufs = randomPackedWeights(device, N, words, G, BITS, copies);
    const w = bufs.map((b) => ({
      p: tf.tensor({ buffer: b.packed, zeroCopy: true }, [N, words], 'int32'),
      s: tf.tensor({ buffer: b.scales, zeroCopy: true }, [N, G], 'float32'),
      z: tf.tensor({ buffer: b.zeros, zeroCopy: true }, [N, G], 'float32'),
    }));
    const x = tf.randomUniform([1, K], -1, 1);
    const addA = tf.randomUniform([1, N], -1, 1);
    const addB = tf.randomUniform([1, N], -1, 1);
    const opts = { bits: BITS, groupSize: GROUP, inFeatures: K };
    const qmm = (i: number): tf.Tensor => quantizedMatMul(x, w[i % copies].p, w[i % copies].s, w[i % copies].z, opts);
    const calls: Record<PathName, (i: number) => tf.Tensor> = { legacy: qmm, program: qmm, direct: qmm, 'tfjs add (floor)': () => tf.add(addA, addB) };
    const paths: PathResult[] = ([...QMM_PATHS, 'tfjs add (floor)'] as const).map((path) => ({ path, enqueueUs: [], wallUs: [] }));
    const select = (p: PathName): void => {
      if (p === 'tfjs add (floor)') return;
      useKernel(kernels[p]);
      setQuantizedMatMulWebGPUOptions({ dispatch: p === 'program' ? 'program' : 'direct' });
    };
    for (const r of paths) { // warm-up: pipelines, buffer pools
      select(r.path);
      await trial(calls[r.path], CALLS);
    }
    for (let t = 0; t < TRIALS; t++) {
      for (const r of t % 2 === 0 ? paths : [...paths].reverse()) {
        select(r.path);
        const m = await trial(calls[r.path], CALLS);
        r.enqueueUs.push(m.enqueueUs);
        r.wallUs.push(m.wallUs);
      }
    }
    for (const r of paths) {
      select(r.path);
      kernelUs = 0;
      wgslBuilds = 0;
      timingKernel = true;
      const { value: m, webgpu } = await traced(() => trial(calls[r.path], CALLS), CALLS);
      timingKernel = false;
      r.trace = { enqueueUs: m.enqueueUs, kernelUs: kernelUs / CALLS, webgpu, wgslBuilds: wgslBuilds / CALLS };
    }
    select('direct');
    // Kernel GPU time: the same program and buffers, recorded in one pass outside tfjs.
    const plan = planQuantizedMatMul({ M: 1, N, K, groups: G, words }, { ...opts, actBits: 0 }, {}, device);
    const y = storageBuffer(device, N * 4);
    const xBuf = storageBuffer(device, K * 4);
    fillRandom(device, xBuf, K, { kind: 'uniform', lo: -1, hi: 1 }, 7);
    const steps = bufs.map((b) => buildSteps(device, plan, { x: xBuf, ...b, y }));
    const rec = await timeRecorded(device, (pass, i) => recordSteps(pass, steps[i % steps.length]), gpu.hasTimestamps);
    // tfjs's own per-program GPU time (tf.time), where the device has timestamp queries.
    let tfjsKernelUs: number | null = null;
    if (gpu.hasTimestamps) {
      const n = Math.min(CALLS, 50);
      const outs: tf.Tensor[] = [];
      const info = await tf.time(() => { for (let i = 0; i < n; i++) outs.push(qmm(i)); });
      outs.forEach((o) => o.dispose());
      tfjsKernelUs = (info.kernelMs as number) * 1000 / n;
    }
    results.push({ K, N, copies, kernelGpuUs: rec.gpuUs, recordedWallUs: rec.wallUs, tfjsKernelUs, paths });
    const last = results[results.length - 1];
    for (const r of paths) {
      console.log(`${K}x${N} ${r.path}: enqueue ${median(r.enqueueUs).toFixed(1)} us/call, wall ${median(r.wallUs).toFixed(1)} us/call`
        + ` (trials ${r.wallUs.map((v) => v.toFixed(0)).join(' ')}); kernel GPU ${last.kernelGpuUs?.toFixed(1) ?? '-'} us`);
    }
    w.forEach((t) => { t.p.dispose(); t.s.dispose(); t.z.dispose(); });
    bufs.forEach((b) => { b.packed.destroy(); b.scales.destroy(); b.zeros.destroy(); });
    [x, addA, addB].forEach((t) => t.dispose());
    y.destroy();
    xBuf.destroy();
  }
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, 'op_path_bench.json'), JSON.stringify({ date: new Date().toISOString(), adapter: gpu.adapterName, calls: CALLS, trials: TRIALS, results }, null, 1));
  summarize(results, gpu.adapterName);
}

function summarize(results: ShapeResult[], adapter: string): void {
  const f = (v: number | null | undefined): string => (v == null ? '-' : v.toFixed(1));
  const lines = [`# op path bench, ${adapter}, ${new Date().toISOString()}, ${CALLS} calls queued, one readback, median of ${TRIALS} trials, submit batch ${tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')}`,
    '| K x N | kernel GPU us (recorded; tfjs tf.time) | legacy: enqueue / wall us | program: enqueue / wall us | direct: enqueue / wall us | direct wall - GPU us | tfjs add [1,N]: enqueue / wall us |',
    '|---|---|---|---|---|---|---|'];
  for (const r of results) {
    const [l, p, d, floor] = r.paths;
    const gpuUs = r.kernelGpuUs ?? r.recordedWallUs;
    const ew = (x: PathResult): string => `${f(median(x.enqueueUs))} / ${f(median(x.wallUs))}`;
    lines.push(`| ${r.K}x${r.N} | ${f(r.kernelGpuUs)}; ${f(r.tfjsKernelUs)} | ${ew(l)} | ${ew(p)} | ${ew(d)} | ${f(median(d.wallUs) - gpuUs)} | ${ew(floor)} |`);
  }
  lines.push('', '## trace (one traced trial per path, µs per op call; calls per op call in brackets)');
  for (const r of results) {
    for (const p of r.paths) {
      const t = p.trace!;
      const { totalUs: inWebgpu, parts } = formatTrace(t.webgpu);
      const engine = p.path === 'tfjs add (floor)' ? `tfjs op + engine ${f(t.enqueueUs - inWebgpu)}` : `engine + op ${f(t.enqueueUs - t.kernelUs)}, kernel JS ${f(t.kernelUs - inWebgpu)}, WGSL builds ${t.wgslBuilds.toFixed(2)}`;
      lines.push(`- ${r.K}x${r.N} ${p.path}: traced enqueue ${f(t.enqueueUs)}; ${engine}; WebGPU ${f(inWebgpu)}: ${parts}`);
    }
  }
  console.log(lines.join('\n'));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
