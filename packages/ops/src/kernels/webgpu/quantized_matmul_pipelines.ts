/// <reference types="@webgpu/types" />
/**
 * Plans and encodes MbqQuantizedMatMul on a bare GPUDevice: picks the variant, builds (and
 * caches per device) the compute pipelines, and returns dispatch steps that any compute pass
 * can record. The tfjs kernel records them into the webgpu backend's command encoder; the
 * benchmark records many of them into one pass to time the GPU work without tfjs overhead.
 *
 * Why own pipelines instead of backend.runWebGPUProgram: the shapes are baked into the WGSL
 * (no uniform buffer, no per-call uniform upload), bindings are vec4<u32>/vec4<f32> views of
 * the tensors' buffers, and the same steps can be recorded outside tfjs by the benchmark.
 */
import { wordsPerRow } from '../../packing.js';
import type { MbqQuantizedMatMulAttrs, QmmDims } from '../quantized_matmul_common.js';
import {
  actQuantShader, GemvConfig, gemmShader, gemmSupported, genericShader, gemvShader, gemvSupported, QmmShape,
} from './quantized_matmul_wgsl.js';

export type QmmVariant = 'gemv' | 'gemm' | 'generic';

/** Knobs for tests and benchmarks; the defaults are what the kernel uses. */
export interface QmmOptions {
  /** Force a variant (falls back to 'generic' when the shape does not allow it). */
  variant?: QmmVariant;
  /** Use the integer dot product emulation even where dot4I8Packed exists. */
  disableDot4?: boolean;
  /** Use dot4I8Packed wherever WGSL has it, software adapters included (tests). */
  forceDot4?: boolean;
  /** Smallest M that takes the tiled GEMM (float activations). */
  gemmMinM?: number;
  /** Override the gemv tiling (R rows per team, TS threads per team). */
  gemvR?: number;
  gemvTS?: number;
  /** Tokens per workgroup of the gemv variant (1..8). */
  gemvMT?: number;
  /** Tests only: fill the output with NaN before the kernel runs, so an unwritten element shows. */
  poisonOutput?: boolean;
}

export interface QmmPlan {
  variant: QmmVariant;
  act8: boolean;
  nativeDot4: boolean;
  shape: QmmShape;
  M: number;
  gemv?: GemvConfig;
  /** Bytes of the temporaries the act8 pre-pass needs: int8 x [M, W8] words, scales [M]. */
  act8Words: number;
}

export interface QmmBindings {
  x: GPUBuffer;
  packed: GPUBuffer;
  scales: GPUBuffer;
  zeros: GPUBuffer;
  y: GPUBuffer;
  /** act8 only: int8-packed x, 4 per word [M * act8Words], and per-token scales [M]. */
  xq?: GPUBuffer;
  xs?: GPUBuffer;
}

export interface QmmStep {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  dispatch: [number, number, number];
}

const MAX_DIM = 65535;

function nextPow2(v: number): number {
  let p = 1;
  while (p < v) p *= 2;
  return p;
}

/**
 * dot4I8Packed is used where WGSL has packed_4x8_integer_dot_product, except on software
 * adapters: Mesa lavapipe (LLVM 15) does not finish kernels that use it for more than a few
 * tokens, while the emulation runs fine there (and gives identical integers).
 */
export function hasNativeDot4(device?: GPUDevice): boolean {
  const gpu = (globalThis as { navigator?: { gpu?: { wgslLanguageFeatures?: ReadonlySet<string> } } }).navigator?.gpu;
  if (!gpu?.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product')) return false;
  const info = (device as { adapterInfo?: GPUAdapterInfo } | undefined)?.adapterInfo;
  const text = info ? [info.vendor, info.architecture, info.device, info.description].join(' ') : '';
  return !/llvmpipe|lavapipe|swiftshader|software/i.test(text);
}

export function defaultGemvConfig(shape: QmmShape, MT: number, opts: QmmOptions = {}): GemvConfig {
  const SB = shape.K / 128;
  const TS = opts.gemvTS ?? Math.min(32, nextPow2(SB));
  // R = 4 measured best on an H200 for M = 1 and for M = 4, 8 (docs/benchmarks.md).
  const R = opts.gemvR ?? (shape.bits > 4 ? 2 : 4);
  const WG = MT > 4 ? 128 : 256;
  return { MT, R, TS: Math.min(TS, WG), WG };
}

export function planQuantizedMatMul(dims: QmmDims, attrs: MbqQuantizedMatMulAttrs, opts: QmmOptions = {}, device?: GPUDevice): QmmPlan {
  const shape: QmmShape = { bits: attrs.bits, K: dims.K, N: dims.N, groupSize: attrs.groupSize };
  const act8 = attrs.actBits === 8;
  const nativeDot4 = act8 && !opts.disableDot4 && (opts.forceDot4 ? hasNativeDot4() : hasNativeDot4(device));
  const act8Words = 2 * Math.ceil(dims.K / 8);
  let variant: QmmVariant;
  const gemmMinM = opts.gemmMinM ?? 33;
  if (opts.variant) {
    variant = opts.variant;
    if (variant === 'gemv' && !gemvSupported(shape)) variant = 'generic';
    if (variant === 'gemm' && (act8 || !gemmSupported(shape))) variant = 'generic';
  } else if (!act8 && dims.M >= gemmMinM && gemmSupported(shape)) {
    variant = 'gemm';
  } else if (gemvSupported(shape)) {
    variant = 'gemv';
  } else {
    variant = 'generic';
  }
  const plan: QmmPlan = { variant, act8, nativeDot4, shape, M: dims.M, act8Words };
  // At most 4 tokens per workgroup (M = 5..8 takes two token chunks in one dispatch): on an
  // H200, MT=4 R=4 ran 2 chunks as fast as MT=8 R=4 ran one, and lavapipe does not finish the
  // MT=8 R=4 kernel in reasonable time. opts.gemvMT overrides (tests, benchmark).
  if (variant === 'gemv') plan.gemv = defaultGemvConfig(shape, Math.min(dims.M, opts.gemvMT ?? 4), opts);
  return plan;
}

const pipelineCache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function pipelineFor(device: GPUDevice, code: string): GPUComputePipeline {
  let cache = pipelineCache.get(device);
  if (!cache) {
    cache = new Map();
    pipelineCache.set(device, cache);
  }
  let p = cache.get(code);
  if (!p) {
    const module = device.createShaderModule({ code });
    p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    cache.set(code, p);
  }
  return p;
}

function bind(device: GPUDevice, pipeline: GPUComputePipeline, entries: Array<[GPUBuffer, number]>): GPUBindGroup {
  return device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: entries.map(([buffer, size], i) => ({ binding: i, resource: { buffer, offset: 0, size } })),
  });
}

/** WGSL sources of a plan (for tests and inspection). */
export function planShaders(plan: QmmPlan): string[] {
  const out: string[] = [];
  if (plan.act8) out.push(actQuantShader(plan.shape.K));
  if (plan.variant === 'gemv') out.push(gemvShader(plan.shape, plan.gemv!, plan.act8, plan.nativeDot4));
  else if (plan.variant === 'gemm') out.push(gemmShader(plan.shape));
  else out.push(genericShader(plan.shape, plan.act8, plan.nativeDot4));
  return out;
}

/**
 * Builds the dispatch steps of a plan over the given buffers. Binding sizes are exact
 * (M is derived from the output binding's length), so pooled buffers larger than the tensor
 * are fine.
 */
export function buildSteps(device: GPUDevice, plan: QmmPlan, b: QmmBindings): QmmStep[] {
  const { K, N, bits, groupSize } = plan.shape;
  const M = plan.M;
  const groups = K / groupSize;
  const words = wordsPerRow(K, bits);
  const steps: QmmStep[] = [];
  const shaders = planShaders(plan);
  let si = 0;
  if (plan.act8) {
    if (!b.xq || !b.xs) throw new Error('quantizedMatMul (webgpu): act8 needs the xq and xs temporaries');
    const p = pipelineFor(device, shaders[si++]);
    steps.push({
      pipeline: p,
      bindGroup: bind(device, p, [[b.x, M * K * 4], [b.xq, M * plan.act8Words * 4], [b.xs, M * 4]]),
      dispatch: [M, 1, 1],
    });
  }
  const p = pipelineFor(device, shaders[si]);
  const xEntry: [GPUBuffer, number] = plan.act8 ? [b.xq!, M * plan.act8Words * 4] : [b.x, M * K * 4];
  const entries: Array<[GPUBuffer, number]> = [
    xEntry, [b.packed, N * words * 4], [b.scales, N * groups * 4], [b.zeros, N * groups * 4], [b.y, M * N * 4],
  ];
  if (plan.act8) entries.push([b.xs!, M * 4]);
  const bindGroup = bind(device, p, entries);
  let dispatch: [number, number, number];
  if (plan.variant === 'gemv') {
    const c = plan.gemv!;
    const rowsPerWg = (c.WG / c.TS) * c.R;
    dispatch = [Math.ceil(N / rowsPerWg), Math.ceil(M / c.MT), 1];
  } else if (plan.variant === 'gemm') {
    dispatch = [Math.ceil(N / 64), Math.ceil(M / 64), 1];
  } else {
    const nx = Math.min(N, MAX_DIM);
    dispatch = [nx, Math.ceil(N / nx), M];
  }
  if (dispatch.some((d) => d > MAX_DIM)) {
    throw new Error(`quantizedMatMul (webgpu): dispatch [${dispatch}] exceeds ${MAX_DIM} workgroups per dimension (M=${M}, N=${N})`);
  }
  steps.push({ pipeline: p, bindGroup, dispatch });
  return steps;
}

export function recordSteps(pass: GPUComputePassEncoder, steps: readonly QmmStep[]): void {
  for (const s of steps) {
    pass.setPipeline(s.pipeline);
    pass.setBindGroup(0, s.bindGroup);
    pass.dispatchWorkgroups(s.dispatch[0], s.dispatch[1], s.dispatch[2]);
  }
}
