/// <reference types="@webgpu/types" />
/**
 * Timing by queueing: many dispatches recorded into one compute pass, one submit, one
 * readback (shared/device/README.md). Reports the pass's GPU time from timestamp queries
 * (where the device has them) and the host time from submit to readback, both per call.
 */
import { median } from './host_timing.js';

export interface Timing {
  calls: number;
  /** Median over trials of GPU time per call (timestamps), microseconds; null without timestamps. */
  gpuUs: number | null;
  /** Median over trials of host time per call from submit to readback, microseconds. */
  wallUs: number;
}

const MAP_READ = 0x1;
const COPY_DST = 0x8;
const COPY_SRC = 0x4;
const QUERY_RESOLVE = 0x200;

export type Recorder = (pass: GPUComputePassEncoder, i: number) => void;

async function runOnce(device: GPUDevice, record: Recorder, calls: number, timestamps: boolean): Promise<{ gpu: number | null; wall: number }> {
  const enc = device.createCommandEncoder();
  let qs: GPUQuerySet | null = null;
  let resolve: GPUBuffer | null = null;
  let read: GPUBuffer | null = null;
  if (timestamps) {
    qs = device.createQuerySet({ type: 'timestamp', count: 2 });
    resolve = device.createBuffer({ size: 16, usage: QUERY_RESOLVE | COPY_SRC });
    read = device.createBuffer({ size: 16, usage: MAP_READ | COPY_DST });
  }
  const pass = enc.beginComputePass(qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
  for (let i = 0; i < calls; i++) record(pass, i);
  pass.end();
  if (qs && resolve && read) {
    enc.resolveQuerySet(qs, 0, 2, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
  }
  const cmd = enc.finish();
  const t0 = performance.now();
  device.queue.submit([cmd]);
  let gpu: number | null = null;
  if (read) {
    await read.mapAsync(MAP_READ);
    const ts = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    gpu = Number(ts[1] - ts[0]) / 1000; // ns -> us
  } else {
    await device.queue.onSubmittedWorkDone();
  }
  const wall = (performance.now() - t0) * 1000;
  qs?.destroy();
  resolve?.destroy();
  read?.destroy();
  return { gpu, wall };
}

/** Picks the call count so that one trial takes about targetMs of GPU time. */
export async function timeRecorded(device: GPUDevice, record: Recorder, timestamps: boolean, targetMs = 15, trials = 7): Promise<Timing> {
  await runOnce(device, record, 4, false); // warm-up: pipelines, first-touch of buffers
  const probe = await runOnce(device, record, 16, timestamps);
  const perCall = Math.max((probe.gpu ?? probe.wall) / 16, 0.5);
  const calls = Math.max(16, Math.min(4000, Math.round((targetMs * 1000) / perCall)));
  const gpus: number[] = [];
  const walls: number[] = [];
  for (let t = 0; t < trials; t++) {
    const r = await runOnce(device, record, calls, timestamps);
    if (r.gpu !== null) gpus.push(r.gpu / calls);
    walls.push(r.wall / calls);
  }
  return { calls, gpuUs: gpus.length ? median(gpus) : null, wallUs: median(walls) };
}

/** Host time per call of an async-free loop of tfjs calls ending in one readback. */
export async function timeTfjs(step: (i: number) => { dispose(): void; data(): Promise<unknown> }, targetMs = 30, trials = 3): Promise<Timing> {
  const warm = step(0);
  await warm.data();
  warm.dispose();
  const probeN = 4;
  let t0 = performance.now();
  let outs = Array.from({ length: probeN }, (_, i) => step(i));
  await outs[probeN - 1].data();
  outs.forEach((o) => o.dispose());
  const perCall = ((performance.now() - t0) * 1000) / probeN;
  const calls = Math.max(8, Math.min(2000, Math.round((targetMs * 1000) / perCall)));
  const walls: number[] = [];
  for (let t = 0; t < trials; t++) {
    t0 = performance.now();
    outs = [];
    for (let i = 0; i < calls; i++) outs.push(step(i));
    await outs[calls - 1].data();
    walls.push(((performance.now() - t0) * 1000) / calls);
    outs.forEach((o) => o.dispose());
  }
  return { calls, gpuUs: null, wallUs: median(walls) };
}
