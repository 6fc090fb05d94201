import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqAddRmsNorm, MbqAddRmsNormAttrs, MbqAddRmsNormInputs } from '../../kernel_names.js';
import { addRmsNormDims } from '../fused_common.js';
import { runProgram } from './direct_dispatch.js';
import { fusedRunOptions } from './fused_options.js';
import { addProgram, rmsNormProgram } from './fused_programs.js';
import { asWebGPU, f32u, i32u, withShape } from './program.js';

const GAMMA = ['gamma'] as const;

/**
 * Two programs, one kernel: tfjs's program machinery binds one output per program, so the sum and
 * the normed rows are written by two dispatches (the norm re-adds x + res per element, the same
 * f32 sum, rather than waiting on the sum's buffer). One kernel instead of Add + MbqRmsNorm; both
 * dispatches take the direct path (direct_dispatch.ts) like the other fused ops.
 */
export const addRmsNormWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = asWebGPU(MbqAddRmsNorm, backend);
  const { x, residual, gamma } = inputs as MbqAddRmsNormInputs;
  const { eps } = attrs as unknown as MbqAddRmsNormAttrs;
  const { rows, C } = addRmsNormDims(x.shape, residual.shape, gamma.shape);
  if (rows === 0) return [gpu.makeTensorInfo(x.shape, 'float32'), gpu.makeTensorInfo(x.shape, 'float32')];
  const flat = [withShape(x, [rows * C]), withShape(residual, [rows * C])];
  const sum = runProgram(gpu, addProgram(rows * C), flat, 'float32', [], fusedRunOptions(gpu, [rows * C]));
  const rowsIn = [withShape(x, [rows, C]), withShape(residual, [rows, C]), gamma];
  const y = runProgram(gpu, rmsNormProgram(rows, C, true), rowsIn, 'float32', [i32u(rows), f32u(eps)],
    fusedRunOptions(gpu, [rows, C], GAMMA));
  return [withShape(y, x.shape), withShape(sum, x.shape)];
};

export const addRmsNormWebGPUConfig: KernelConfig = { kernelName: MbqAddRmsNorm, backendName: 'webgpu', kernelFunc: addRmsNormWebGPU };
