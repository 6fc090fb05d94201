/**
 * 'wasm' kernel: runs the cpu algorithm on data read from the wasm heap (readSync) and writes
 * its output back with makeOutput. Same code as the cpu kernel, so the results are identical.
 */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { mbqReconstructionLossCpuConfig, mbqReconstructionLossHost } from '../cpu/mbq_reconstruction_loss.js';

export const mbqReconstructionLossWasmConfig: KernelConfig = {
  kernelName: mbqReconstructionLossCpuConfig.kernelName,
  backendName: 'wasm',
  kernelFunc: mbqReconstructionLossHost,
};
