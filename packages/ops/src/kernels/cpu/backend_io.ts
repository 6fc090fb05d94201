/**
 * Reading inputs and making outputs as typed arrays on a backend whose tensors live in host memory:
 * 'cpu' (MathBackendCPU) and 'wasm' (BackendWasm, tensors on the wasm heap). The cpu kernels are
 * written against this small interface so that the wasm kernels run the very same code.
 */
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';

export type HostArray = Float32Array | Int32Array | Uint8Array;

export interface HostBackendIO {
  read(t: TensorInfo): HostArray;
  make(shape: number[], dtype: DataType, values: HostArray): TensorInfo;
}

interface CpuLike {
  readSync(dataId: object): unknown;
  makeTensorInfo(shape: number[], dtype: DataType, values: HostArray): TensorInfo;
}
interface WasmLike {
  readSync(dataId: object): unknown;
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number, values?: HostArray): TensorInfo;
}

function asHostArray(kernel: string, v: unknown): HostArray {
  if (v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array) return v;
  throw new Error(`${kernel}: expected numeric tensor data, got ${Object.prototype.toString.call(v)}`);
}

/** Adapter for the backend a kernel function was handed ('cpu' or 'wasm'). */
export function hostIO(kernel: string, backend: object): HostBackendIO {
  const b = backend as Partial<CpuLike & WasmLike>;
  if (typeof b.readSync !== 'function') throw new Error(`${kernel}: backend cannot read tensor data synchronously`);
  const readSync = b.readSync.bind(backend);
  const read = (t: TensorInfo): HostArray => asHostArray(kernel, readSync(t.dataId));
  if (typeof b.makeTensorInfo === 'function') {
    const makeTensorInfo = b.makeTensorInfo.bind(backend);
    return { read, make: (shape, dtype, values) => makeTensorInfo(shape, dtype, values) };
  }
  if (typeof b.makeOutput === 'function') {
    const makeOutput = b.makeOutput.bind(backend);
    return { read, make: (shape, dtype, values) => makeOutput(shape, dtype, undefined, values) };
  }
  throw new Error(`${kernel}: backend cannot create tensors from host data`);
}
