/**
 * 'wasm' kernel: runs the cpu algorithm on data read from the wasm heap (readSync) and writes
 * its output back with makeOutput. Same code as the cpu kernel, so the results are identical.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { pseudoQuantizeCpuConfig, pseudoQuantizeHost } from '../cpu/pseudo_quantize.js';

export const pseudoQuantizeWasmConfig: KernelConfig = {
  kernelName: pseudoQuantizeCpuConfig.kernelName,
  backendName: 'wasm',
  kernelFunc: pseudoQuantizeHost,
};
