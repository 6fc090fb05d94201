/**
 * 'wasm' kernel of MbqQuantizedMatMul: the same exact float32 reference as 'cpu', run on the
 * wasm heap's data (XNNPACK has no low-bit matmul to call), so both give identical results.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { MbqQuantizedMatMul } from '../quantized_matmul_common.js';
import { quantizedMatMulHost } from '../cpu/quantized_matmul.js';

export const quantizedMatMulWasmConfig: KernelConfig = {
  kernelName: MbqQuantizedMatMul,
  backendName: 'wasm',
  kernelFunc: quantizedMatMulHost,
};
