/** Registers MbqQuantizedMatMul for cpu, wasm and webgpu and the graph op (idempotent). */
import * as tf from '@tensorflow/tfjs-core';
import { quantizedMatMulCpuConfig } from './cpu/quantized_matmul.js';
import { quantizedMatMulWasmConfig } from './wasm/quantized_matmul.js';
import { quantizedMatMulWebGPUConfig } from './webgpu/quantized_matmul.js';
import { registerMbqQuantizedMatMulGraphOp } from '../graph/mbq_quantized_matmul.js';

export function registerQuantizedMatMul(): void {
  for (const config of [quantizedMatMulCpuConfig, quantizedMatMulWasmConfig, quantizedMatMulWebGPUConfig]) {
    if (!tf.getKernel(config.kernelName, config.backendName)) tf.registerKernel(config);
  }
  registerMbqQuantizedMatMulGraphOp();
}
