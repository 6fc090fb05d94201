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

export interface WebGPUBackendLike {
  runWebGPUProgram(program: FlatProgram, inputs: TensorInfo[], outputDtype: DataType, uniforms?: ProgramUniform[]): TensorInfo;
  makeTensorInfo(shape: number[], dtype: DataType, values?: Float32Array | Int32Array): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

const WORKGROUP = 64;

/** A flat program over `outputShape` (rank >= 1); `body` is the WGSL run for each in-range index. */
export function flatProgram(opts: {
  key: string; variableNames: string[]; outputShape: number[]; uniforms?: string; body: string;
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
    getUserCode: () => `
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
