/**
 * 'wasm' kernel: runs the cpu algorithm on data read from the wasm heap (readSync) and writes
 * its output back with makeOutput. Same code as the cpu kernel, so the results are identical.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { uniformReconstructionLossCpuConfig, uniformReconstructionLossHost } from '../cpu/uniform_reconstruction_loss.js';

export const uniformReconstructionLossWasmConfig: KernelConfig = {
  kernelName: uniformReconstructionLossCpuConfig.kernelName,
  backendName: 'wasm',
  kernelFunc: uniformReconstructionLossHost,
};
