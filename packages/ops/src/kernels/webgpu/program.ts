/**
 * Minimal WebGPU program plumbing for our WGSL kernels, written against the WebGPUProgram
 * interface of @tensorflow/tfjs-backend-webgpu (see its webgpu_program.d.ts). Only types are
 * taken from that package: importing it for values would evaluate it before navigator.gpu exists
 * in Node, and it then skips registering its backend.
 *
 * Programs here are flat: one invocation per output element, `main(index)` guarded by
 * `index < uniforms.size`; inputs are read as plain arrays named by `variableNames`, the output
 * is written to `result[index]`. tfjs prepends the declarations (bindings, Uniforms struct).
 */
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';

export interface ProgramUniform { type: 'int32' | 'float32' | 'uint32'; data: number[] }

export interface FlatProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size: true;
  uniforms?: string;
  getUserCode(): string;
}

/** What runWebGPUProgram needs of any of our programs (flat ones here, row ones in fused_programs.ts). */
export interface ProgramLike {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  getUserCode(): string;
}

export interface WebGPUBackendLike {
  runWebGPUProgram(program: ProgramLike, inputs: TensorInfo[], outputDtype: DataType, uniforms?: ProgramUniform[], output?: TensorInfo): TensorInfo;
  makeTensorInfo(shape: number[], dtype: DataType, values?: Float32Array | Int32Array): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

const WORKGROUP = 64;

/** A flat program over `outputShape` (rank >= 1); `body` is the WGSL run for each in-range index. */
export function flatProgram(opts: {
  key: string; variableNames: string[]; outputShape: number[]; uniforms?: string; body: string; helpers?: string;
}): FlatProgram {
  const size = opts.outputShape.reduce((a, b) => a * b, 1);
  return {
    variableNames: opts.variableNames,
    outputShape: opts.outputShape,
    shaderKey: `mbq_${opts.key}`,
    dispatchLayout: { x: opts.outputShape.map((_, i) => i) },
    // runWebGPUProgram reshapes a dispatch that exceeds the per-dimension limit.
    dispatch: [Math.max(1, Math.ceil(size / WORKGROUP)), 1, 1],
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    uniforms: opts.uniforms,
    getUserCode: () => `${opts.helpers ?? ''}
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${opts.body}
        }
      }`,
  };
}

export function asWebGPU(kernel: string, backend: object): WebGPUBackendLike {
  const b = backend as Partial<WebGPUBackendLike>;
  if (typeof b.runWebGPUProgram !== 'function' || typeof b.makeTensorInfo !== 'function') {
    throw new Error(`${kernel}: the webgpu kernel was handed a backend that cannot run WebGPU programs`);
  }
  return backend as WebGPUBackendLike;
}

/** Same data, other shape (the same size), like the webgpu Reshape kernel; caller gives up `t`. */
export function withShape(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

export const i32u = (...data: number[]): ProgramUniform => ({ type: 'int32', data });
export const f32u = (...data: number[]): ProgramUniform => ({ type: 'float32', data });

/**
 * Correctly rounded f32 division (round to nearest even) in integer arithmetic. WGSL's `a / b`
 * is only specified to 2.5 ulp (NVIDIA compiles it to a reciprocal and a multiply), which moves
 * scales by an ulp and flips rounding ties against the cpu kernels; an fma-based Newton fix is
 * no cure either, as fma need not be fused (lavapipe). Long division of the 24-bit significands
 * gives 24 bits plus a round bit and a sticky remainder. Zero, subnormal, infinite or NaN
 * operands and results that would overflow or be subnormal fall back to `a / b`: in the
 * quantizers such quotients are either far from any rounding tie or not finite anyway.
 */
export const DIV_RN_WGSL = `
  fn divRn(a : f32, b : f32) -> f32 {
    let ua = bitcast<u32>(a);
    let ub = bitcast<u32>(b);
    let ea = i32((ua >> 23u) & 0xffu);
    let eb = i32((ub >> 23u) & 0xffu);
    if (ea == 0 || eb == 0 || ea == 255 || eb == 255) { return a / b; }
    var ma = (ua & 0x7fffffu) | 0x800000u;
    let mb = (ub & 0x7fffffu) | 0x800000u;
    var e = ea - eb + 127;
    if (ma < mb) { ma = ma << 1u; e = e - 1; }
    var rem = ma;
    var q = 0u;
    for (var i = 0; i < 25; i++) {
      q = q << 1u;
      if (rem >= mb) { rem = rem - mb; q = q | 1u; }
      rem = rem << 1u;
    }
    var mant = q >> 1u;
    if ((q & 1u) != 0u && (rem != 0u || (mant & 1u) != 0u)) { mant = mant + 1u; }
    if (mant == 0x1000000u) { mant = mant >> 1u; e = e + 1; }
    if (e <= 0 || e >= 255) { return a / b; }
    return bitcast<f32>(((ua ^ ub) & 0x80000000u) | (u32(e) << 23u) | (mant & 0x7fffffu));
  }`;
