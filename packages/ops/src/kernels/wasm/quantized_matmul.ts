/**
 * 'wasm' kernel of MbqQuantizedMatMul.
 *
 * Default: the wasm SIMD kernel (simd/quantized_matmul_simd.ts) reads the packed codes where the
 * backend keeps them and computes y without unpacking W; float activations agree with the 'cpu'
 * reference to float32 rounding (sums in another order), W4A8 is bit-identical to it. From
 * GEMM_MIN_M tokens on (prefill) its GEMM kernels run: a block of 8 weight rows decoded once per
 * call into scratch (float32 (q - z)·s, or int16 q - z for W4A8), then a register-tiled GEMM (float;
 * W4A8: int32 group sums with dot_i16x8_s). Both are bit-identical to the reference (float: with
 * integer zero points).
 *
 * Fallback, where that kernel cannot run (no WebAssembly SIMD, tfjs-backend-wasm's threaded build
 * whose heap is not reachable, or the module still compiling in a browser main thread), or on
 * request (setQuantizedMatMulWasmOptions({ kernel: 'xnnpack' })): XNNPACK has no low-bit matmul,
 * so the codes are unpacked on the host and the product runs through the backend's float BatchMatMul:
 * - weights only: w = (q - zero) * scale, written transposed [K, N] (wasm's matmul is an order of
 *   magnitude slower with a transposed operand), then x · w.
 * - W4A8: per group, int8 codes · (q - zero) is a product of small integers whose every partial
 *   sum stays below 2^24, so the float matmul is exact in any order; the group sums then combine
 *   in the reference's order. Bit-identical to the 'cpu' reference.
 * With the tfjs flag MBQ_CACHE_UNPACKED_WEIGHTS the fallback keeps its unpacked weights between
 * calls (unpacked_weight_cache.ts): same results, float32 memory.
 */
import { BatchMatMul, getKernel, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { unpackCodes } from '../../packing.js';
import { checkQuantizedMatMul, MbqQuantizedMatMul, quantizeActivationsInt8, type MbqQuantizedMatMulAttrs } from '../quantized_matmul_common.js';
import { hostIO, type HostBackendIO } from '../cpu/backend_io.js';
import { quantizedMatMulHost } from '../cpu/quantized_matmul.js';
import { withUnpackedWeight } from './unpacked_weight_cache.js';
import { runSimdQuantizedMatMul, simdKernelFor } from './simd/quantized_matmul_simd.js';

export interface QuantizedMatMulWasmOptions {
  /** 'simd' (default; falls back where it cannot run) or 'xnnpack' (always the fallback). */
  kernel?: 'simd' | 'xnnpack';
  /** Tests: fill each SIMD output with NaN before the kernel writes it. */
  poisonOutput?: boolean;
  /** Tests and benchmarks: smallest M (tokens) for the SIMD GEMM kernel (default GEMM_MIN_M). */
  gemmMinM?: number;
}
let options: QuantizedMatMulWasmOptions = {};
/** Test and benchmark hook; {} restores the defaults. */
export function setQuantizedMatMulWasmOptions(o: QuantizedMatMulWasmOptions): void { options = { ...o }; }

/** Which path a call on this backend takes: 'simd', or the fallback and why. */
export function quantizedMatMulWasmPath(backend: object): { path: 'simd' | 'xnnpack'; reason: string } {
  if (options.kernel === 'xnnpack') return { path: 'xnnpack', reason: "setQuantizedMatMulWasmOptions({ kernel: 'xnnpack' })" };
  const k = simdKernelFor(backend);
  return typeof k === 'string' ? { path: 'xnnpack', reason: k } : { path: 'simd', reason: 'wasm SIMD kernel on the packed codes' };
}

interface DisposingBackend { disposeData(dataId: object): void }

/** a [M, K] · b [1, K, N] (a backend tensor) through the backend's BatchMatMul; returns the product's host data. */
function hostMatMul(io: HostBackendIO, backend: object, a: Float32Array, b: TensorInfo, M: number, K: number): Float32Array {
  const kernel = getKernel(BatchMatMul, 'wasm');
  if (!kernel) throw new Error('quantizedMatMul: the wasm backend has no BatchMatMul kernel');
  const ta = io.make([1, M, K], 'float32', a);
  const out = kernel.kernelFunc({ inputs: { a: ta, b }, backend: backend as never, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
  const y = Float32Array.from(io.read(out));
  for (const t of [ta, out]) (backend as DisposingBackend).disposeData(t.dataId);
  return y;
}

const quantizedMatMulUnpacked: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO('quantizedMatMul', backend);
  const { x, packed, scales, zeros } = inputs as { x: TensorInfo; packed: TensorInfo; scales: TensorInfo; zeros: TensorInfo };
  const a = attrs as unknown as MbqQuantizedMatMulAttrs;
  const { M, N, K, groups } = checkQuantizedMatMul(x.shape, packed.shape, scales.shape, zeros.shape, a);
  const g = a.groupSize;
  const sc = io.read(scales);
  const z = io.read(zeros);
  const xv = io.read(x);
  const outShape = [...x.shape.slice(0, -1), N];
  const layout = `${a.bits}:${g}:${N}:${K}`;
  if (a.actBits !== 8) {
    const dequantizedT = (): TensorInfo[] => {
      const codes = unpackCodes(io.read(packed), N, K, a.bits);
      const w = new Float32Array(K * N);
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) {
          const gi = n * groups + Math.floor(k / g);
          w[k * N + n] = (codes[n * K + k] - z[gi]) * sc[gi];
        }
      }
      return [io.make([1, K, N], 'float32', w)];
    };
    return withUnpackedWeight(backend, packed, scales, zeros, `wT:${layout}`, dequantizedT,
      ([wT]) => io.make(outShape, 'float32', hostMatMul(io, backend, Float32Array.from(xv), wT, M, K)));
  }
  // Exactness needs integer zero points and |partial sums| < 2^24; otherwise take the reference.
  let maxW = 0;
  for (let i = 0; i < z.length; i++) {
    if (!Number.isInteger(z[i])) return quantizedMatMulHost({ inputs, backend, attrs });
    maxW = Math.max(maxW, Math.abs(z[i]) + 2 ** a.bits - 1);
  }
  if (128 * maxW * g >= 2 ** 24) return quantizedMatMulHost({ inputs, backend, attrs });
  // Per group, the integer weights (q - zero) transposed to [g, N].
  const integerGroupsT = (): TensorInfo[] => {
    const codes = unpackCodes(io.read(packed), N, K, a.bits);
    return Array.from({ length: groups }, (_, gi) => {
      const wg = new Float32Array(g * N);
      for (let n = 0; n < N; n++) {
        const zero = z[n * groups + gi];
        for (let k = 0; k < g; k++) wg[k * N + n] = codes[n * K + gi * g + k] - zero;
      }
      return io.make([1, g, N], 'float32', wg);
    });
  };
  const { q, scale: sx } = quantizeActivationsInt8(xv, M, K);
  const f = Math.fround;
  return withUnpackedWeight(backend, packed, scales, zeros, `groups:${layout}`, integerGroupsT, (wgs) => {
    const acc = new Float32Array(M * N);
    const xg = new Float32Array(M * g);
    for (let gi = 0; gi < groups; gi++) {
      for (let m = 0; m < M; m++) for (let k = 0; k < g; k++) xg[m * g + k] = q[m * K + gi * g + k];
      const ag = hostMatMul(io, backend, xg, wgs[gi]!, M, g);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) acc[m * N + n] = f(acc[m * N + n] + f(sc[n * groups + gi] * ag[m * N + n]));
      }
    }
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) acc[m * N + n] = f(acc[m * N + n] * sx[m]);
    return io.make(outShape, 'float32', acc);
  });
};

interface WasmHeapBackend {
  getMemoryOffset(dataId: object): number;
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** W4A8 on the SIMD kernel needs integer zeros (exact int32 sums); checked once per zeros tensor. */
const integerZeros = new WeakMap<object, boolean>();
function zerosAreSmallIntegers(backend: WasmHeapBackend, zeros: TensorInfo, bits: number): boolean {
  let ok = integerZeros.get(zeros.dataId);
  if (ok === undefined) {
    const z = backend.typedArrayFromHeap(zeros);
    ok = true;
    for (let i = 0; i < z.length && ok; i++) ok = Number.isInteger(z[i]) && Math.abs(z[i]) <= 2 ** bits;
    integerZeros.set(zeros.dataId, ok);
  }
  return ok;
}

const quantizedMatMulWasm: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x, packed, scales, zeros } = inputs as { x: TensorInfo; packed: TensorInfo; scales: TensorInfo; zeros: TensorInfo };
  const a = attrs as unknown as MbqQuantizedMatMulAttrs;
  const { M, N, K, words } = checkQuantizedMatMul(x.shape, packed.shape, scales.shape, zeros.shape, a);
  const k = options.kernel === 'xnnpack' ? 'forced' : simdKernelFor(backend);
  const heap = backend as unknown as WasmHeapBackend;
  if (typeof k === 'string' || x.dtype !== 'float32' || scales.dtype !== 'float32' || zeros.dtype !== 'float32') {
    return quantizedMatMulUnpacked(args);
  }
  if (a.actBits === 8) {
    // int32 sums: |Σ qx·(q - z)| <= 128 · 2^(bits+1) · K must stay below 2^31.
    if (!zerosAreSmallIntegers(heap, zeros, a.bits) || 128 * 2 ** (a.bits + 1) * K >= 2 ** 31) return quantizedMatMulHost(args);
  }
  const out = heap.makeOutput([...x.shape.slice(0, -1), N], 'float32');
  if (M * N === 0) return out;
  if (options.poisonOutput) (heap.typedArrayFromHeap(out) as Float32Array).fill(NaN);
  runSimdQuantizedMatMul(k, {
    x: heap.getMemoryOffset(x.dataId), packed: heap.getMemoryOffset(packed.dataId),
    scales: heap.getMemoryOffset(scales.dataId), zeros: heap.getMemoryOffset(zeros.dataId), y: heap.getMemoryOffset(out.dataId),
    M, N, K, groupSize: a.groupSize, words, bits: a.bits, actBits: a.actBits, gemmMinM: options.gemmMinM,
  });
  return out;
};

export const quantizedMatMulWasmConfig: KernelConfig = {
  kernelName: MbqQuantizedMatMul,
  backendName: 'wasm',
  kernelFunc: quantizedMatMulWasm,
};
