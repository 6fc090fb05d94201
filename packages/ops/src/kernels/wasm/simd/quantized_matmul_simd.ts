/**
 * Runs the wasm SIMD MbqQuantizedMatMul module (packages/ops/wasm/quantized_matmul_wat.ts) next to
 * tfjs-backend-wasm, on tfjs's own heap: the module imports the backend's WebAssembly.Memory, so
 * x, the packed codes, scales and zeros are read where the backend keeps them and y is written
 * into the output tensor's heap block. No input is copied and the packed weights exist once.
 * Scratch (x prepared per token, sums per group) comes from the backend's malloc for one call.
 *
 * Sharing needs the backend's Memory object: tfjs-backend-wasm 4.22's single-threaded builds
 * (every Node build, and browsers without cross-origin isolation) export it as `wasm.asm.memory`.
 * The threaded browser build creates its memory in JavaScript and does not expose it; there, and
 * where the engine has no WebAssembly SIMD, simdKernelFor() says why and the caller falls back.
 */
import { QUANTIZED_MATMUL_WASM_BASE64 } from './quantized_matmul_module.js';

/** What the emscripten module of tfjs-backend-wasm offers (4.22). */
interface EmscriptenWasm {
  asm?: Record<string, unknown>;
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

type Kernel = (xs: number, xsum: number, packed: number, scales: number, zeros: number, y: number,
  m0: number, N: number, K: number, g: number, words: number, sx: number, fast: number) => void;

type Gemm = (x: number, packed: number, scales: number, zeros: number, y: number,
  M: number, N: number, K: number, g: number, words: number, scratch: number) => void;

type PrepLanes = (x: number, M: number, K: number, g: number, xs: number, xsum: number, sx: number) => void;

export interface SimdExports {
  prep_f32(x: number, M: number, K: number, bits: number, g: number, xs: number, xsum: number): void;
  prep_i8(x: number, M: number, K: number, bits: number, g: number, xs: number, xsum: number, sx: number): void;
  [kernel: string]: unknown;
}

export interface SimdKernel {
  exports: SimdExports;
  wasm: EmscriptenWasm;
}

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  if (typeof atob === 'function') return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  throw new Error('quantizedMatMul: no atob() to decode the wasm module');
}

let bytes: Uint8Array<ArrayBuffer> | undefined;
let compiled: WebAssembly.Module | undefined;
let unavailable: string | undefined;
let pending: Promise<void> | undefined;

function moduleBytes(): Uint8Array<ArrayBuffer> {
  bytes ??= decodeBase64(QUANTIZED_MATMUL_WASM_BASE64);
  return bytes;
}

function checkSimd(): boolean {
  if (WebAssembly.validate(moduleBytes())) return true;
  unavailable = 'this WebAssembly engine has no SIMD (the module does not validate)';
  return false;
}

/**
 * Compiles the module ahead of the first call. Needed in browsers' main threads, which refuse to
 * compile modules over 4 KB synchronously; initBackend('wasm') awaits it. Until it resolves the
 * kernel falls back (simdKernelFor says so).
 */
export function prepareQuantizedMatMulWasm(): Promise<void> {
  if (compiled || unavailable) return Promise.resolve();
  pending ??= (checkSimd() ? WebAssembly.compile(moduleBytes()) : Promise.resolve(undefined)).then(
    (m) => { if (m) compiled = m; },
    (e: unknown) => { unavailable = `the module did not compile: ${String(e)}`; },
  );
  return pending;
}

function compileSync(): WebAssembly.Module | undefined {
  if (compiled || unavailable) return compiled;
  if (!checkSimd()) return undefined;
  try {
    compiled = new WebAssembly.Module(moduleBytes());
  } catch {
    // A browser main thread: compile asynchronously; calls fall back until it is ready.
    void prepareQuantizedMatMulWasm();
  }
  return compiled;
}

const instances = new WeakMap<object, SimdKernel>();

/** The module instance bound to this backend's heap, or why there is none. */
export function simdKernelFor(backend: object): SimdKernel | string {
  const wasm = (backend as { wasm?: EmscriptenWasm }).wasm;
  if (!wasm || typeof wasm._malloc !== 'function') return 'the backend is not tfjs-backend-wasm';
  const known = instances.get(wasm);
  if (known) return known;
  const mod = compileSync();
  if (!mod) return unavailable ?? 'the module is still compiling (await prepareQuantizedMatMulWasm())';
  const memory = wasm.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory) || memory.buffer !== wasm.HEAPU8.buffer) {
    return "tfjs-backend-wasm's heap memory is not reachable (the threaded build keeps it private)";
  }
  if (typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer) {
    return "tfjs-backend-wasm's heap is shared memory (threaded build)";
  }
  const instance = new WebAssembly.Instance(mod, { env: { memory } });
  const kernel: SimdKernel = { exports: instance.exports as unknown as SimdExports, wasm };
  instances.set(wasm, kernel);
  return kernel;
}

export interface SimdCall {
  x: number; packed: number; scales: number; zeros: number; y: number;
  M: number; N: number; K: number; groupSize: number; words: number; bits: number; actBits: number;
  /** Smallest M for the GEMM kernel (default GEMM_MIN_M; tests and benchmarks move it). */
  gemmMinM?: number;
}

/** Codes per chunk of the chunk-lanes kernels (packages/ops/wasm/quantized_matmul_lanes_wat.ts). */
function laneChunkCodes(bits: number): number { return 32 % bits === 0 ? 128 / bits : 128; }

/** Per-call scratch bytes: prepared x [M, K], per-group sums [M, K / groupSize, 4], token scales [M]. */
function scratchBytes(c: SimdCall): number {
  return 4 * (c.M * c.K + 4 * c.M * (c.K / c.groupSize) + c.M);
}

/** M tiles per kernel family (packages/ops/wasm/quantized_matmul_wat.ts: LANE_M_TILES, QMM_M_TILES). */
const TILES: Record<'lane' | 'qmm', readonly number[]> = { lane: [4, 2, 1], qmm: [1] };
type KernelTable = Map<string, Kernel[]>;
const tables = new WeakMap<SimdKernel, KernelTable>();

/** The kernels of one family/mode/bit width, by M tile (looked up once per instance). */
function kernelsFor(k: SimdKernel, family: 'lane' | 'qmm', prefix: string): Kernel[] {
  let table = tables.get(k);
  if (!table) tables.set(k, (table = new Map()));
  let fns = table.get(prefix);
  if (!fns) table.set(prefix, (fns = TILES[family].map((t) => k.exports[`${prefix}_m${t}`] as Kernel)));
  return fns;
}

/**
 * From this many tokens on, calls take the GEMM kernels (packages/ops/wasm/quantized_matmul_gemm_wat.ts:
 * each code decoded once per call into a block of 8 rows); fewer take the per-token kernels, which
 * decode each code once per tile of at most 4 tokens but need no block pass.
 */
export const GEMM_MIN_M = 6;

/** Which kernel family a call runs: 'gemm' (M >= GEMM_MIN_M, group % 32 == 0), 'lane' or 'qmm'. */
export function simdFamily(c: Pick<SimdCall, 'M' | 'K' | 'groupSize' | 'bits' | 'actBits' | 'gemmMinM'>): 'gemm' | 'lane' | 'qmm' {
  if (c.M >= (c.gemmMinM ?? GEMM_MIN_M) && c.groupSize % 32 === 0) return 'gemm';
  const chunk = laneChunkCodes(c.bits);
  return c.K % chunk === 0 && c.groupSize % chunk === 0 ? 'lane' : 'qmm';
}

const up16 = (n: number): number => (n + 15) & ~15;

/**
 * Scratch bytes of the GEMM kernels (quantized_matmul_gemm_wat.ts): float x, a float block
 * [K][8] and 32 floats; W4A8, int16 x [M][K], token scales [M], an int16 block [K/2][8][2], the
 * block's scales [K/g][8] and 32 floats.
 */
function gemmScratchBytes(c: SimdCall): number {
  if (c.actBits !== 8) return 32 * c.K + 128;
  return up16(2 * c.M * c.K) + up16(4 * c.M) + 16 * c.K + 32 * (c.K / c.groupSize) + 128;
}

function runGemm(k: SimdKernel, c: SimdCall): void {
  const bytes = gemmScratchBytes(c);
  const scratch = k.wasm._malloc(bytes) >>> 0;
  if (scratch === 0) throw new Error(`quantizedMatMul: the wasm heap has no room for ${bytes} bytes of scratch`);
  try {
    const fn = k.exports[`gemm_${c.actBits === 8 ? 'a8' : 'f32'}_b${c.bits}`] as Gemm;
    fn(c.x, c.packed, c.scales, c.zeros, c.y, c.M, c.N, c.K, c.groupSize, c.words, scratch);
  } finally {
    k.wasm._free(scratch);
  }
}

/** y = x · dequant(W)ᵀ on the heap (every pointer is a heap byte offset). */
export function runSimdQuantizedMatMul(k: SimdKernel, c: SimdCall): void {
  const family = simdFamily(c);
  if (family === 'gemm') { runGemm(k, c); return; }
  const { M, N, K, groupSize: g, words, bits, actBits } = c;
  const G = K / g;
  const bytes = scratchBytes(c);
  const scratch = k.wasm._malloc(bytes) >>> 0;
  if (scratch === 0) throw new Error(`quantizedMatMul: the wasm heap has no room for ${bytes} bytes of scratch`);
  try {
    const xs = scratch;
    const xsum = xs + 4 * M * K;
    const sx = xsum + 16 * M * G;
    const mode = actBits === 8 ? 'a8' : 'f32';
    const lanes = family === 'lane';
    if (lanes) (k.exports[`prep_lanes_${mode}_b${bits}`] as PrepLanes)(c.x, M, K, g, xs, xsum, sx);
    else if (mode === 'a8') k.exports.prep_i8(c.x, M, K, bits, g, xs, xsum, sx);
    else k.exports.prep_f32(c.x, M, K, bits, g, xs, xsum);
    const fast = g % 32 === 0 || G === 1 ? 1 : 0;
    const fns = kernelsFor(k, family, `${family}_${mode}_b${bits}`);
    const tiles = TILES[family];
    let m0 = 0;
    for (let i = 0; i < tiles.length; i++) {
      const tile = tiles[i]!;
      const fn = fns[i]!;
      for (; M - m0 >= tile; m0 += tile) fn(xs, xsum, c.packed, c.scales, c.zeros, c.y, m0, N, K, g, words, sx, fast);
    }
  } finally {
    k.wasm._free(scratch);
  }
}
