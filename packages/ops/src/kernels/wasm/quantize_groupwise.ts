/**
 * 'wasm' kernel: runs the cpu algorithm on data read from the wasm heap (readSync) and writes
 * its output back with makeOutput. Same code as the cpu kernel, so the results are identical.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { quantizeGroupwiseCpuConfig, quantizeGroupwiseHost } from '../cpu/quantize_groupwise.js';

export const quantizeGroupwiseWasmConfig: KernelConfig = {
  kernelName: quantizeGroupwiseCpuConfig.kernelName,
  backendName: 'wasm',
  kernelFunc: quantizeGroupwiseHost,
};
