/**
 * Host-side timing shared by the benchmarks: medians, a trial of queued op calls with one
 * readback, and a trace of the WebGPU calls made while tracing (µs and calls per op call).
 */
import type * as tf from '@tensorflow/tfjs-core';

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/**
 * `calls` calls queued, one readback of the last; µs per call for the loop (enqueue), the
 * process's CPU time in the loop (enqueueCpuUs: on a shared machine, time the loop spent
 * preempted is not in it) and to readback done (wall).
 */
export async function trial(call: (i: number) => tf.Tensor, calls: number): Promise<{ enqueueUs: number; enqueueCpuUs: number; wallUs: number }> {
  const outs: tf.Tensor[] = [];
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) outs.push(call(i));
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  await outs[calls - 1]!.data();
  const t2 = performance.now();
  outs.forEach((o) => o.dispose());
  return { enqueueUs: ((t1 - t0) * 1000) / calls, enqueueCpuUs: (c1.user + c1.system) / calls, wallUs: ((t2 - t0) * 1000) / calls };
}

export interface TraceEntry { calls: number; us: number }

const TRACED: Record<string, string[]> = {
  GPUDevice: ['createBuffer', 'createBindGroup', 'createShaderModule', 'createComputePipeline', 'createCommandEncoder'],
  GPUQueue: ['writeBuffer', 'submit'],
  GPUCommandEncoder: ['beginComputePass', 'finish', 'copyBufferToBuffer'],
  GPUComputePassEncoder: ['setPipeline', 'setBindGroup', 'dispatchWorkgroups', 'end'],
  GPUComputePipeline: ['getBindGroupLayout'],
};

let tracing = false;
const calls = new Map<string, TraceEntry>();

/** Wraps the WebGPU methods above once (after setupGpu put Dawn's globals in place); they count only while tracing. */
export function instrumentWebGPU(): void {
  const g = globalThis as unknown as Record<string, { prototype: Record<string, unknown> }>;
  for (const [cls, names] of Object.entries(TRACED)) {
    const proto = g[cls]!.prototype;
    for (const name of names) {
      const orig = proto[name] as (...a: unknown[]) => unknown;
      proto[name] = function (this: unknown, ...a: unknown[]): unknown {
        if (!tracing) return orig.apply(this, a);
        const t0 = performance.now();
        const r = orig.apply(this, a);
        const key = `${cls.replace(/^GPU/, '')}.${name}`;
        const e = calls.get(key) ?? { calls: 0, us: 0 };
        e.calls++;
        e.us += (performance.now() - t0) * 1000;
        calls.set(key, e);
        return r;
      };
    }
  }
}

/** Runs `fn` while tracing; returns its value and the WebGPU calls per `perCalls` op calls. */
export async function traced<T>(fn: () => Promise<T>, perCalls: number): Promise<{ value: T; webgpu: Record<string, TraceEntry> }> {
  calls.clear();
  tracing = true;
  let value: T;
  try {
    value = await fn();
  } finally {
    tracing = false;
  }
  const webgpu: Record<string, TraceEntry> = {};
  for (const [k, e] of calls) webgpu[k] = { calls: e.calls / perCalls, us: e.us / perCalls };
  return { value, webgpu };
}

/** "total µs: op µs (calls), ..." of a trace, largest first. */
export function formatTrace(webgpu: Record<string, TraceEntry>): { totalUs: number; parts: string } {
  const totalUs = Object.values(webgpu).reduce((s, e) => s + e.us, 0);
  const parts = Object.entries(webgpu).sort((x, y) => y[1].us - x[1].us)
    .map(([k, e]) => `${k} ${e.us.toFixed(1)} (${e.calls.toFixed(2)})`).join(', ');
  return { totalUs, parts };
}
