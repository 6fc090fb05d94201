import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import {
  MbqQuantizeActivationPerToken, MbqQuantizeActivationPerTokenAttrs, MbqQuantizeActivationPerTokenInputs,
} from '../../kernel_names.js';
import { asWebGPU, withShape } from './program.js';
import { groupParamsGpu, quantizeElementsGpu } from './quantize_programs.js';

/** WGSL: per-token scales (one invocation per token), then codes and dequantized values per element. */
const quantizeActivationPerTokenWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = asWebGPU(MbqQuantizeActivationPerToken, backend);
  const { x } = inputs as MbqQuantizeActivationPerTokenInputs;
  const { bits } = attrs as unknown as MbqQuantizeActivationPerTokenAttrs;
  const K = x.shape[x.shape.length - 1];
  const scalesShape = [...x.shape.slice(0, -1), 1];
  const { scales, zeros } = groupParamsGpu(gpu, x, K, bits, 'sym');
  const values = quantizeElementsGpu(gpu, x, scales, zeros, K, bits, 'sym', 'dequantized');
  const codes = quantizeElementsGpu(gpu, x, scales, zeros, K, bits, 'sym', 'code');
  gpu.disposeData(zeros.dataId);
  return [values, codes, withShape(scales, scalesShape)];
};

export const quantizeActivationPerTokenWebGPUConfig: KernelConfig = {
  kernelName: MbqQuantizeActivationPerToken,
  backendName: 'webgpu',
  kernelFunc: quantizeActivationPerTokenWebGPU,
};
