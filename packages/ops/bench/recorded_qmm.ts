/// <reference types="@webgpu/types" />
/**
 * The quantized-matmul programs recorded outside tfjs, for timing the GPU work alone: the same
 * user code as the kernel (quantized_matmul_programs.ts) behind declarations laid out as
 * tfjs-webgpu lays them out (binding 0 `result`, inputs from 1 in variableNames order, then the
 * uniforms; `_start` sets the private builtins and calls `main`). Only `uniforms.m` is declared:
 * it is the only uniform the programs read.
 */
import { directShader, type WgslType } from '../src/kernels/webgpu/direct_dispatch.js';
import { needsActQuant, type QmmPlan } from '../src/kernels/webgpu/quantized_matmul_plan.js';
import { ActQuantProgram, QuantizedMatMulProgram, WebGPUProgram } from '../src/kernels/webgpu/quantized_matmul_programs.js';

export interface QmmBindings {
  x: GPUBuffer;
  packed: GPUBuffer;
  scales: GPUBuffer;
  zeros: GPUBuffer;
  y: GPUBuffer;
  /** act8 only: the act-quant output, int32 [M * act8Words(K) + M]. */
  xq?: GPUBuffer;
}

export interface QmmStep {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  dispatch: [number, number, number];
}

type ElementType = WgslType;

/**
 * The WGSL tfjs would wrap around `program`'s user code: directShader with no constant inputs
 * lays every binding out in one group as tfjs does (result, the inputs in variableNames order,
 * the uniforms).
 */
function standaloneShader(program: WebGPUProgram, inputTypes: ElementType[], outputType: ElementType): string {
  return directShader(program, [], inputTypes, outputType);
}

const pipelineCache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** Compiled once per WGSL source and device (keyed by the source, as the old kernel did). */
function pipelineFor(device: GPUDevice, code: string): GPUComputePipeline {
  let cache = pipelineCache.get(device);
  if (!cache) {
    cache = new Map();
    pipelineCache.set(device, cache);
  }
  let p = cache.get(code);
  if (!p) {
    p = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: '_start' } });
    cache.set(code, p);
  }
  return p;
}

const uniformCache = new WeakMap<GPUDevice, Map<number, GPUBuffer>>();

/** `uniforms.m = M`, one buffer per device and M. */
function uniformBuffer(device: GPUDevice, M: number): GPUBuffer {
  let cache = uniformCache.get(device);
  if (!cache) {
    cache = new Map();
    uniformCache.set(device, cache);
  }
  let b = cache.get(M);
  if (!b) {
    b = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(b, 0, new Int32Array([M, 0, 0, 0]));
    cache.set(M, b);
  }
  return b;
}

/**
 * Dispatch steps of a plan over the given buffers. Builds the WGSL and looks the pipeline up on
 * every call, and a bind group per step: the per-call work of the kernel before issue 17
 * (op_path_bench.ts times it as the "before" path); benchmarks build steps once and replay them.
 */
export function buildSteps(device: GPUDevice, plan: QmmPlan, b: QmmBindings): QmmStep[] {
  const steps: QmmStep[] = [];
  const uniforms = uniformBuffer(device, plan.M);
  const step = (program: WebGPUProgram, code: string, out: GPUBuffer, ins: GPUBuffer[]): void => {
    const pipeline = pipelineFor(device, code);
    const entries = [out, ...ins, uniforms].map((buffer, i) => ({ binding: i, resource: { buffer } }));
    steps.push({ pipeline, bindGroup: device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }), dispatch: program.dispatch });
  };
  if (needsActQuant(plan)) {
    if (!b.xq) throw new Error('buildSteps: act8 needs the xq temporary');
    const aq = new ActQuantProgram(plan);
    step(aq, standaloneShader(aq, ['f32'], 'i32'), b.xq, [b.x]);
    const p = new QuantizedMatMulProgram(plan);
    step(p, standaloneShader(p, ['i32', 'i32', 'f32', 'f32', 'i32'], 'f32'), b.y, [b.xq, b.packed, b.scales, b.zeros, b.xq]);
  } else {
    const p = new QuantizedMatMulProgram(plan);
    step(p, standaloneShader(p, ['f32', 'i32', 'f32', 'f32'], 'f32'), b.y, [b.x, b.packed, b.scales, b.zeros]);
  }
  return steps;
}

export function recordSteps(pass: GPUComputePassEncoder, steps: readonly QmmStep[]): void {
  for (const s of steps) {
    pass.setPipeline(s.pipeline);
    pass.setBindGroup(0, s.bindGroup);
    pass.dispatchWorkgroups(s.dispatch[0], s.dispatch[1], s.dispatch[2]);
  }
}
