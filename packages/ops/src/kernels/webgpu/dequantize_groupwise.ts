import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqDequantizeGroupwise, MbqDequantizeGroupwiseAttrs, MbqDequantizeGroupwiseInputs } from '../../kernel_names.js';
import { wordsPerRow } from '../../packing.js';
import { asWebGPU } from './program.js';
import { unpackDequantizeGpu } from './quantize_programs.js';

/** WGSL: one invocation per output element unpacks its code and applies (q - zero) * scale. */
const dequantizeGroupwiseWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = asWebGPU(MbqDequantizeGroupwise, backend);
  const { packed, scales, zeros } = inputs as MbqDequantizeGroupwiseInputs;
  const { bits, groupSize, inFeatures: K } = attrs as unknown as MbqDequantizeGroupwiseAttrs;
  const N = packed.shape[0];
  return unpackDequantizeGpu(gpu, packed, scales, zeros, N, K, groupSize, bits, wordsPerRow(K, bits));
};

export const dequantizeGroupwiseWebGPUConfig: KernelConfig = {
  kernelName: MbqDequantizeGroupwise,
  backendName: 'webgpu',
  kernelFunc: dequantizeGroupwiseWebGPU,
};
