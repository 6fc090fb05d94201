import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqPseudoQuantize, MbqPseudoQuantizeAttrs, MbqPseudoQuantizeInputs } from '../../kernel_names.js';
import { groupLengthFor } from '../cpu/quantize_impl.js';
import { asWebGPU } from './program.js';
import { groupParamsGpu, quantizeElementsGpu, tensorParamsGpu } from './quantize_programs.js';

/**
 * WGSL: one pass for the group scales/zeros (one invocation per group: group-wise, per token or
 * per channel; per tensor reduces chunk maxima first), then one invocation per element.
 */
const pseudoQuantizeWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = asWebGPU(MbqPseudoQuantize, backend);
  const { x } = inputs as MbqPseudoQuantizeInputs;
  const { bits, mode, groupSize } = attrs as unknown as MbqPseudoQuantizeAttrs;
  const g = groupLengthFor(mode, x.shape, groupSize);
  const scheme = mode === 'asym-group' ? 'asym' : 'sym';
  const { scales, zeros } = mode === 'sym-tensor' ? tensorParamsGpu(gpu, x, bits) : groupParamsGpu(gpu, x, g, bits, scheme);
  const out = quantizeElementsGpu(gpu, x, scales, zeros, g, bits, scheme, 'dequantized');
  gpu.disposeData(scales.dataId);
  gpu.disposeData(zeros.dataId);
  return out;
};

export const pseudoQuantizeWebGPUConfig: KernelConfig = {
  kernelName: MbqPseudoQuantize,
  backendName: 'webgpu',
  kernelFunc: pseudoQuantizeWebGPU,
};
