/// <reference types="@webgpu/types" />
/**
 * Issue 17: host cost of one decode-step call of each fused decoder op on webgpu, through
 * backend.runWebGPUProgram ('program') and recorded directly into tfjs's pass ('direct',
 * direct_dispatch.ts, the default), in one process, trials alternating, with tf.add on [1, C]
 * as tfjs's own per-op floor. Per op and path, BENCH_CALLS calls are queued and read back once:
 * enqueue = time of the loop per call (the host cost), enqueue CPU = the process's CPU time in
 * it (what the loop cost without the time it sat preempted on a shared machine), wall = to
 * readback done. One
 * more traced trial per path counts the WebGPU calls per op call (bind groups, uniform writes).
 * Shapes: LLaMA-7B's decode step, M = 1 (C 4096, 32 heads of 128, MLP 11008, BENCH_SK keys).
 * Env: BENCH_CALLS (200), BENCH_TRIALS (5), BENCH_SK (128), BENCH_SUBMIT_BATCH (tfjs's
 * WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE; set it above BENCH_CALLS to keep submits, which run the
 * queued work on the CPU on a software adapter such as lavapipe, out of the enqueue time).
 * Writes fused_op_bench.json to $OUT; prints a table last.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attention, rmsNorm, rope, siluGate } from '../src/index.js';
import { setFusedWebGPUOptions } from '../src/kernels/webgpu/fused_options.js';
import { setupGpu } from './gpu_setup.js';
import { formatTrace, instrumentWebGPU, median, traced, TraceEntry, trial } from './host_timing.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 200);
const TRIALS = Number(process.env.BENCH_TRIALS ?? 5);
const SK = Number(process.env.BENCH_SK ?? 128);
const C = 4096, HEADS = 32, D = 128, MLP = 11008;
const OUT_DIR = process.env.OUT ?? 'bench-out';

const PATHS = ['program', 'direct', 'tfjs add (floor)'] as const;
type PathName = (typeof PATHS)[number];

interface PathResult { path: PathName; enqueueUs: number[]; enqueueCpuUs: number[]; wallUs: number[]; trace?: { enqueueUs: number; webgpu: Record<string, TraceEntry> } }
interface OpResult { op: string; shape: string; paths: PathResult[] }

async function main(): Promise<void> {
  const gpu = await setupGpu();
  instrumentWebGPU();
  // Small tensors that live on the CPU would otherwise run tf.add on the CPU (the floor path).
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (process.env.BENCH_SUBMIT_BATCH) tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', Number(process.env.BENCH_SUBMIT_BATCH));
  const batch = tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE');
  console.log(`adapter: ${gpu.adapterName}; calls ${CALLS}; trials ${TRIALS}; submit batch ${batch}; keys ${SK}`);
  const r = (shape: number[]): tf.Tensor => tf.randomUniform(shape, -1, 1);
  const x = r([1, 1, C]), gamma = r([C]), gateUp = r([1, 1, 2 * MLP]);
  const cos = r([1, D]), sin = r([1, D]);
  const k = r([1, SK, C]), v = r([1, SK, C]), mask = tf.zeros([1, SK]);
  const ops: Array<{ op: string; shape: string; call: () => tf.Tensor; floor: [tf.Tensor, tf.Tensor] }> = [
    { op: 'rmsNorm', shape: `[1,1,${C}]`, call: () => rmsNorm(x, gamma, 1e-6), floor: [x, x] },
    { op: 'siluGate', shape: `[1,1,${2 * MLP}]`, call: () => siluGate(gateUp), floor: [gateUp, gateUp] },
    { op: 'rope', shape: `[1,1,${C}] ${HEADS}x${D}`, call: () => rope(x, cos, sin, { headDim: D, heads: HEADS }), floor: [x, x] },
    { op: 'attention', shape: `q [1,1,${C}] kv [1,${SK},${C}]`, call: () => attention(x, k, v, mask, { heads: HEADS, kvHeads: HEADS, headDim: D, scale: 1 / Math.sqrt(D) }), floor: [x, x] },
  ];
  const results: OpResult[] = [];
  for (const o of ops) {
    const calls: Record<PathName, () => tf.Tensor> = { program: o.call, direct: o.call, 'tfjs add (floor)': () => tf.add(o.floor[0], o.floor[1]) };
    const paths: PathResult[] = PATHS.map((path) => ({ path, enqueueUs: [], enqueueCpuUs: [], wallUs: [] }));
    const select = (p: PathName): void => setFusedWebGPUOptions({ dispatch: p === 'program' ? 'program' : 'direct' });
    for (const p of paths) { // warm-up: pipelines, buffer pools, bind groups
      select(p.path);
      await trial(calls[p.path], CALLS);
    }
    for (let t = 0; t < TRIALS; t++) {
      for (const p of t % 2 === 0 ? paths : [...paths].reverse()) {
        select(p.path);
        const m = await trial(calls[p.path], CALLS);
        p.enqueueUs.push(m.enqueueUs);
        p.enqueueCpuUs.push(m.enqueueCpuUs);
        p.wallUs.push(m.wallUs);
      }
    }
    for (const p of paths) {
      select(p.path);
      const { value, webgpu } = await traced(() => trial(calls[p.path], CALLS), CALLS);
      p.trace = { enqueueUs: value.enqueueUs, webgpu };
    }
    results.push({ op: o.op, shape: o.shape, paths });
    for (const p of paths) {
      const list = (v: number[]): string => v.map((u) => u.toFixed(0)).join(' ');
      console.log(`${o.op} ${p.path}: enqueue ${median(p.enqueueUs).toFixed(1)} us/call (trials ${list(p.enqueueUs)}), enqueue CPU ${median(p.enqueueCpuUs).toFixed(1)} (trials ${list(p.enqueueCpuUs)}), wall ${median(p.wallUs).toFixed(1)} us/call`);
    }
  }
  setFusedWebGPUOptions({});
  [x, gamma, gateUp, cos, sin, k, v, mask].forEach((t) => t.dispose());
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, 'fused_op_bench.json'), JSON.stringify({ date: new Date().toISOString(), adapter: gpu.adapterName, calls: CALLS, trials: TRIALS, keys: SK, results }, null, 1));
  summarize(results, gpu.adapterName);
}

function summarize(results: OpResult[], adapter: string): void {
  const f = (v: number): string => v.toFixed(1);
  const ew = (p: PathResult): string => `${f(median(p.enqueueUs))} / ${f(median(p.enqueueCpuUs))} (min ${f(Math.min(...p.enqueueCpuUs))}) / ${f(median(p.wallUs))}`;
  const lines = [`# fused op bench, ${adapter}, ${new Date().toISOString()}, ${CALLS} calls queued, one readback, median of ${TRIALS} trials, submit batch ${tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')}`,
    '| op (decode step) | runWebGPUProgram: enqueue / enqueue CPU / wall us | direct: enqueue / enqueue CPU / wall us | tfjs add: enqueue / enqueue CPU / wall us |', '|---|---|---|---|'];
  for (const r of results) lines.push(`| ${r.op} ${r.shape} | ${r.paths.map(ew).join(' | ')} |`);
  lines.push('', '## trace (one traced trial per path, µs per op call; calls per op call in brackets)');
  for (const r of results) {
    for (const p of r.paths) {
      const { totalUs, parts } = formatTrace(p.trace!.webgpu);
      lines.push(`- ${r.op} ${p.path}: traced enqueue ${f(p.trace!.enqueueUs)}; WebGPU ${f(totalUs)}: ${parts}`);
    }
  }
  console.log(lines.join('\n'));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
