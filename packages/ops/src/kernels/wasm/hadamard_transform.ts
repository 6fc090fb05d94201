/**
 * 'wasm' kernel: runs the cpu algorithm on data read from the wasm heap (readSync) and writes
 * its output back with makeOutput. Same code as the cpu kernel, so the results are identical.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { hadamardTransformCpuConfig, hadamardTransformHost } from '../cpu/hadamard_transform.js';

export const hadamardTransformWasmConfig: KernelConfig = {
  kernelName: hadamardTransformCpuConfig.kernelName,
  backendName: 'wasm',
  kernelFunc: hadamardTransformHost,
};
