/// <reference types="@webgpu/types" />
/**
 * Benchmark setup: one Dawn device (with shader-f16 and timestamp-query where the adapter has
 * them) shared by tfjs-webgpu, our quantized-matmul pipelines and the baseline kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

export interface BenchGpu {
  device: GPUDevice;
  adapterName: string;
  hasF16: boolean;
  hasTimestamps: boolean;
  backend: WebGPUBackend;
  limits: Record<string, number>;
}

export async function setupGpu(): Promise<BenchGpu> {
  const dawn = (await import('webgpu')) as unknown as { create: (f: string[]) => GPU; globals: Record<string, unknown> };
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('bench: no WebGPU adapter');
  const want: GPUFeatureName[] = ['shader-f16', 'timestamp-query'];
  const requiredFeatures = want.filter((f) => adapter.features.has(f));
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  device.addEventListener('uncapturederror', (e) => {
    console.error('WebGPU error:', (e as GPUUncapturedErrorEvent).error.message);
  });
  const webgpuMod = await import('@tensorflow/tfjs-backend-webgpu');
  tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => new webgpuMod.WebGPUBackend(device, adapter.info), 10);
  if (!(await tf.setBackend('webgpu'))) throw new Error('bench: tfjs webgpu backend failed');
  await tf.ready();
  const info = adapter.info;
  return {
    device,
    adapterName: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' '),
    hasF16: requiredFeatures.includes('shader-f16'),
    hasTimestamps: requiredFeatures.includes('timestamp-query'),
    backend: tf.backend() as WebGPUBackend,
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    },
  };
}

const STORAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST

export function storageBuffer(device: GPUDevice, bytes: number): GPUBuffer {
  return device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: STORAGE });
}

/** Random fill on the GPU (a hash of the index), so creating GiBs of weights takes milliseconds. */
export type FillMode =
  | { kind: 'bits' }
  | { kind: 'uniform'; lo: number; hi: number }
  | { kind: 'integers'; levels: number }
  | { kind: 'f16'; lo: number; hi: number };

export function fillRandom(device: GPUDevice, buf: GPUBuffer, words: number, mode: FillMode, seed: number): void {
  const val = (() => {
    switch (mode.kind) {
      case 'bits': return 'h';
      case 'uniform': return `bitcast<u32>(${mode.lo} + ${mode.hi - mode.lo} * f32(h >> 8u) / 16777216.0)`;
      case 'integers': return `bitcast<u32>(f32(h % ${mode.levels}u))`;
      case 'f16': return `pack2x16float(vec2<f32>(${mode.lo} + ${mode.hi - mode.lo} * f32(h & 0xffffu) / 65536.0, ${mode.lo} + ${mode.hi - mode.lo} * f32(h >> 16u) / 65536.0))`;
    }
  })();
  const code = `
@group(0) @binding(0) var<storage, read_write> o: array<u32>;
fn pcg(v: u32) -> u32 { let s = v * 747796405u + 2891336453u; let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u; return (w >> 22u) ^ w; }
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
  let stride = n.x * 256u;
  for (var i = g.x; i < ${words}u; i += stride) {
    let h = pcg(i ^ pcg(${seed >>> 0}u));
    o[i] = ${val};
  }
}`;
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
  const bg = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf, offset: 0, size: words * 4 } }] });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bg);
  pass.dispatchWorkgroups(Math.min(65535, Math.ceil(words / 256 / 8)));
  pass.end();
  device.queue.submit([enc.finish()]);
}

/** GPU memory in use on the card (MiB) from nvidia-smi, or null where there is none. */
export async function gpuMemoryUsedMiB(): Promise<number | null> {
  try {
    const { execSync } = await import('node:child_process');
    const out = execSync('nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits', { encoding: 'utf8', timeout: 10000 });
    return Number(out.trim().split('\n')[0]);
  } catch {
    return null;
  }
}

/** One copy of a layer's low-bit weights on the GPU: packed codes, per-group scales and zero points. */
export interface PackedWeightBuffers { packed: GPUBuffer; scales: GPUBuffer; zeros: GPUBuffer }

/**
 * `copies` independent random copies of a [N, K] `bits`-bit layer (groups of `group`), so a timed
 * loop can rotate through more bytes than the GPU's caches hold; copy c is seeded from c.
 */
export function randomPackedWeights(device: GPUDevice, N: number, words: number, G: number, bits: number, copies: number): PackedWeightBuffers[] {
  return Array.from({ length: copies }, (_, c) => {
    const packed = storageBuffer(device, N * words * 4);
    const scales = storageBuffer(device, N * G * 4);
    const zeros = storageBuffer(device, N * G * 4);
    fillRandom(device, packed, N * words, { kind: 'bits' }, 11 + c);
    fillRandom(device, scales, N * G, { kind: 'uniform', lo: 0.001, hi: 0.01 }, 1000 + c);
    fillRandom(device, zeros, N * G, { kind: 'integers', levels: 1 << bits }, 2000 + c);
    return { packed, scales, zeros };
  });
}
