/**
 * 'wasm' kernel: runs the cpu algorithm on data read from the wasm heap (readSync) and writes
 * its output back with makeOutput. Same code as the cpu kernel, so the results are identical.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { quantizeActivationPerTokenCpuConfig, quantizeActivationPerTokenHost } from '../cpu/quantize_activation_per_token.js';

export const quantizeActivationPerTokenWasmConfig: KernelConfig = {
  kernelName: quantizeActivationPerTokenCpuConfig.kernelName,
  backendName: 'wasm',
  kernelFunc: quantizeActivationPerTokenHost,
};
