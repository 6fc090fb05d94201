/**
 * 'wasm' kernel: runs the cpu algorithm on data read from the wasm heap (readSync) and writes
 * its output back with makeOutput (no wasm code of its own yet). Same code as the cpu kernel,
 * so the results are identical.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { rmsNormCpuConfig, rmsNormHost } from '../cpu/rms_norm.js';

export const rmsNormWasmConfig: KernelConfig = {
  kernelName: rmsNormCpuConfig.kernelName,
  backendName: 'wasm',
  kernelFunc: rmsNormHost,
};
