import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqQuantizeGroupwise, MbqQuantizeGroupwiseAttrs, MbqQuantizeGroupwiseInputs } from '../../kernel_names.js';
import { wordsPerRow } from '../../packing.js';
import { asWebGPU, withShape } from './program.js';
import { groupParamsGpu, packCodesGpu } from './quantize_programs.js';

/** WGSL: group scales/zeros, then one invocation per packed word (codes computed and packed in place). */
const quantizeGroupwiseWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = asWebGPU(MbqQuantizeGroupwise, backend);
  const { w } = inputs as MbqQuantizeGroupwiseInputs;
  const { bits, groupSize } = attrs as unknown as MbqQuantizeGroupwiseAttrs;
  const [N, K] = w.shape;
  const words = wordsPerRow(K, bits);
  const { scales, zeros } = groupParamsGpu(gpu, w, groupSize, bits, 'asym');
  const packed = packCodesGpu(gpu, w, scales, zeros, N, K, groupSize, bits, words);
  return [packed, withShape(scales, [N, K / groupSize]), withShape(zeros, [N, K / groupSize])];
};

export const quantizeGroupwiseWebGPUConfig: KernelConfig = {
  kernelName: MbqQuantizeGroupwise,
  backendName: 'webgpu',
  kernelFunc: quantizeGroupwiseWebGPU,
};
