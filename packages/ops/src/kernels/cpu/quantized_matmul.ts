/** 'cpu' kernel of MbqQuantizedMatMul: the exact float32 reference (quantized_matmul_common.ts). */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { checkQuantizedMatMul, MbqQuantizedMatMul, MbqQuantizedMatMulAttrs, quantizedMatMulReference } from '../quantized_matmul_common.js';
import { hostIO } from './backend_io.js';

/** Runs on any host-memory backend ('cpu', 'wasm'): the wasm kernel is this same function. */
export const quantizedMatMulHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO('quantizedMatMul', backend);
  const { x, packed, scales, zeros } = inputs as { x: TensorInfo; packed: TensorInfo; scales: TensorInfo; zeros: TensorInfo };
  const a = attrs as unknown as MbqQuantizedMatMulAttrs;
  const dims = checkQuantizedMatMul(x.shape, packed.shape, scales.shape, zeros.shape, a);
  const y = quantizedMatMulReference(io.read(x), io.read(packed), io.read(scales), io.read(zeros), dims, a);
  return io.make([...x.shape.slice(0, -1), dims.N], 'float32', y);
};

export const quantizedMatMulCpuConfig: KernelConfig = {
  kernelName: MbqQuantizedMatMul,
  backendName: 'cpu',
  kernelFunc: quantizedMatMulHost,
};
