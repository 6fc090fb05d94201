/** 'wasm' kernel: the cpu kernel's code on data read from the wasm heap (as wasm/rms_norm.ts). */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { addRmsNormCpuConfig, addRmsNormHost } from '../cpu/add_rms_norm.js';

export const addRmsNormWasmConfig: KernelConfig = {
  kernelName: addRmsNormCpuConfig.kernelName,
  backendName: 'wasm',
  kernelFunc: addRmsNormHost,
};
