import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqRmsNorm, MbqRmsNormAttrs, MbqRmsNormInputs } from '../../kernel_names.js';
import { rmsNormDims } from '../fused_common.js';
import { runProgram } from './direct_dispatch.js';
import { fusedRunOptions } from './fused_options.js';
import { rmsNormProgram } from './fused_programs.js';
import { asWebGPU, f32u, i32u, withShape } from './program.js';

const GAMMA = ['gamma'] as const;

/** One workgroup per row: sum of squares reduced in shared memory, then the scaled row. */
const rmsNormWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = asWebGPU(MbqRmsNorm, backend);
  const { x, gamma } = inputs as MbqRmsNormInputs;
  const { eps } = attrs as unknown as MbqRmsNormAttrs;
  const { rows, C } = rmsNormDims(x.shape, gamma.shape);
  if (rows === 0) return gpu.makeTensorInfo(x.shape, 'float32');
  const y = runProgram(gpu, rmsNormProgram(rows, C), [withShape(x, [rows, C]), gamma], 'float32', [i32u(rows), f32u(eps)],
    fusedRunOptions(gpu, [rows, C], GAMMA));
  return withShape(y, x.shape);
};

export const rmsNormWebGPUConfig: KernelConfig = { kernelName: MbqRmsNorm, backendName: 'webgpu', kernelFunc: rmsNormWebGPU };
