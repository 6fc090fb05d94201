/// <reference types="@webgpu/types" />
/**
 * Plans MbqQuantizedMatMul on WebGPU: picks the variant (gemv, smallm, gemm, generic; W4A8:
 * onepass, or the act8 pre-pass then gemv or generic) and its tiling from the shapes and attributes. quantized_matmul_programs.ts turns a plan into
 * tfjs-webgpu programs.
 */
import type { MbqQuantizedMatMulAttrs, QmmDims } from '../quantized_matmul_common.js';
import { GemvConfig, gemmSupported, gemvSupported, QmmShape } from './quantized_matmul_wgsl.js';
import { SmallMConfig, smallMConfigProblem, smallMSupported } from './quantized_matmul_smallm_wgsl.js';
import type { OnePassConfig } from './quantized_matmul_onepass_wgsl.js';

export type QmmVariant = 'gemv' | 'smallm' | 'gemm' | 'generic' | 'onepass';

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
  /** Largest M that takes the small-M variant by default (float activations; 0: never). */
  smallmMaxM?: number;
  /** Override the small-M tiling (tokens per workgroup, rows per team, threads per team, per workgroup). */
  smallmMT?: number;
  smallmR?: number;
  smallmTS?: number;
  smallmWG?: number;
  /** Largest M that takes the one-pass W4A8 variant by default (0: never, the two-dispatch path). */
  onePassMaxM?: number;
  /** Tests only: fill the output with NaN before the kernel runs, so an unwritten element shows. */
  poisonOutput?: boolean;
  /**
   * 'direct' (default): record into the backend's pass with cached pipelines, uniforms and bind
   * groups (direct_dispatch.ts); 'program': through backend.runWebGPUProgram (tests, benchmark).
   */
  dispatch?: 'direct' | 'program';
}

export interface QmmPlan {
  variant: QmmVariant;
  act8: boolean;
  nativeDot4: boolean;
  shape: QmmShape;
  M: number;
  gemv?: GemvConfig;
  smallm?: SmallMConfig;
  onepass?: OnePassConfig;
}

/** Whether the plan runs the W4A8 activation pre-pass (ActQuantProgram) before its matmul. */
export function needsActQuant(plan: QmmPlan): boolean {
  return plan.act8 && plan.variant !== 'onepass';
}

function nextPow2(v: number): number {
  let p = 1;
  while (p < v) p *= 2;
  return p;
}

const nativeDot4ByDevice = new WeakMap<GPUDevice, boolean>();

/**
 * dot4I8Packed is used where WGSL has packed_4x8_integer_dot_product, except on software
 * adapters: Mesa lavapipe (LLVM 15) does not finish kernels that use it for more than a few
 * tokens, while the emulation runs fine there (and gives identical integers). Cached per
 * device: reading the adapter info goes through the WebGPU binding on every call.
 */
function hasNativeDot4(device?: GPUDevice): boolean {
  if (!device) return wgslHasDot4();
  let has = nativeDot4ByDevice.get(device);
  if (has === undefined) {
    const info = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    const text = info ? [info.vendor, info.architecture, info.device, info.description].join(' ') : '';
    has = wgslHasDot4() && !/llvmpipe|lavapipe|swiftshader|software/i.test(text);
    nativeDot4ByDevice.set(device, has);
  }
  return has;
}

function wgslHasDot4(): boolean {
  const gpu = (globalThis as { navigator?: { gpu?: { wgslLanguageFeatures?: ReadonlySet<string> } } }).navigator?.gpu;
  return gpu?.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product') === true;
}

export function defaultGemvConfig(shape: QmmShape, MT: number, opts: QmmOptions = {}): GemvConfig {
  const SB = shape.K / 128;
  const TS = opts.gemvTS ?? Math.min(32, nextPow2(SB));
  // R = 4 measured best on an H200 for M = 1 and for M = 4, 8 (docs/benchmarks.md).
  const R = opts.gemvR ?? (shape.bits > 4 ? 2 : 4);
  const WG = MT > 4 ? 128 : 256;
  return { MT, R, TS: Math.min(TS, WG), WG };
}

/**
 * Largest M that takes the one-pass W4A8 variant by default (one dispatch). Beyond it the
 * pre-pass and the integer gemv stay: every workgroup of the one-pass kernel reads its tokens'
 * float rows of x twice (absmax, then the codes) and quantizes them again, so its x traffic is
 * about (N / 64)·M·K·8 bytes against the weights' N·K/2: equal at M = 8 (from cache, but growing
 * with M), while the pre-pass reads x once and the matmul reads 1-byte codes; past a few tokens
 * one more dispatch costs less than that.
 */
export const ONEPASS_MAX_M = 8;

/** Threads (= output rows) per workgroup of the one-pass variant; not yet tuned on a GPU. */
const ONEPASS_WG = 64;

/** Largest M that takes the small-M variant by default; its tile holds up to 8 tokens. */
export const SMALLM_MAX_M = 8;

/**
 * Small-M tiling: TS·MT = 64 keeps the x tile (TS chunks × MT tokens × 32 floats) at 8 KiB;
 * at M = 8 (TS = 8), R = 1 and 256 threads give 32 rows per workgroup, the M = 1 gemv's count
 * (128 workgroups at N = 4096). Not yet tuned on a GPU (docs/benchmarks.md, issue 17 target 6).
 */
export function defaultSmallMConfig(shape: QmmShape, M: number, opts: QmmOptions = {}): SmallMConfig {
  const MT = opts.smallmMT ?? Math.min(M, SMALLM_MAX_M);
  const WG = opts.smallmWG ?? 256;
  const chunks = shape.K / 32;
  const TS = opts.smallmTS ?? Math.min(32, nextPow2(Math.ceil(64 / MT)), nextPow2(chunks));
  const c: SmallMConfig = { MT, R: opts.smallmR ?? 1, TS, WG };
  const problem = smallMConfigProblem(c);
  if (problem) throw new Error(`quantizedMatMul (webgpu): small-M tiling ${JSON.stringify(c)}: ${problem}`);
  return c;
}

export function planQuantizedMatMul(dims: QmmDims, attrs: MbqQuantizedMatMulAttrs, opts: QmmOptions = {}, device?: GPUDevice): QmmPlan {
  const shape: QmmShape = { bits: attrs.bits, K: dims.K, N: dims.N, groupSize: attrs.groupSize };
  const act8 = attrs.actBits === 8;
  const nativeDot4 = act8 && !opts.disableDot4 && (opts.forceDot4 ? hasNativeDot4() : hasNativeDot4(device));
  let variant: QmmVariant;
  const gemmMinM = opts.gemmMinM ?? 33;
  if (opts.variant) {
    variant = opts.variant;
    if (variant === 'gemv' && !gemvSupported(shape)) variant = 'generic';
    if (variant === 'gemm' && (act8 || !gemmSupported(shape))) variant = 'generic';
    if (variant === 'smallm' && (act8 || !smallMSupported(shape))) variant = 'generic';
    if (variant === 'onepass' && !act8) variant = 'generic';
  } else if (act8 && dims.M <= (opts.onePassMaxM ?? ONEPASS_MAX_M)) {
    variant = 'onepass';
  } else if (!act8 && dims.M >= 2 && dims.M <= (opts.smallmMaxM ?? SMALLM_MAX_M) && smallMSupported(shape)) {
    variant = 'smallm';
  } else if (!act8 && dims.M >= gemmMinM && gemmSupported(shape)) {
    variant = 'gemm';
  } else if (gemvSupported(shape)) {
    variant = 'gemv';
  } else {
    variant = 'generic';
  }
  const plan: QmmPlan = { variant, act8, nativeDot4, shape, M: dims.M };
  // gemv (M = 1, W4A8, M = 9..32, or forced): at most 4 tokens per workgroup (M = 5..8 takes two token chunks in one dispatch): on an
  // H200, MT=4 R=4 ran 2 chunks as fast as MT=8 R=4 ran one, and lavapipe does not finish the
  // MT=8 R=4 kernel in reasonable time. opts.gemvMT overrides (tests, benchmark).
  if (variant === 'gemv') plan.gemv = defaultGemvConfig(shape, Math.min(dims.M, opts.gemvMT ?? 4), opts);
  if (variant === 'smallm') plan.smallm = defaultSmallMConfig(shape, dims.M, opts);
  if (variant === 'onepass') plan.onepass = { MT: Math.min(dims.M, 8), WG: ONEPASS_WG };
  return plan;
}
