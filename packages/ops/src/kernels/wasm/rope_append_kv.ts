/** 'wasm' kernel: the cpu kernel's code on data read from the wasm heap (as wasm/rope.ts). */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { ropeAppendKvCpuConfig, ropeAppendKvHost } from '../cpu/rope_append_kv.js';

export const ropeAppendKvWasmConfig: KernelConfig = {
  kernelName: ropeAppendKvCpuConfig.kernelName,
  backendName: 'wasm',
  kernelFunc: ropeAppendKvHost,
};
