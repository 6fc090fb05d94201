import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqAddRmsNorm, MbqAddRmsNormAttrs, MbqAddRmsNormInputs } from '../../kernel_names.js';
import { addRmsNormDims } from '../fused_common.js';
import { recordProgram, runProgram } from './direct_dispatch.js';
import { fusedOutput, fusedRunOptions } from './fused_options.js';
import { addProgram, rmsNormProgram, SUM_OUTPUT } from './fused_programs.js';
import { asWebGPU, f32u, i32u, withShape } from './program.js';

const GAMMA = ['gamma'] as const;

/**
 * One dispatch on the direct path (direct_dispatch.ts): a workgroup per row adds x + res, writes
 * the sum and the normed row (issue 17 target 5). runWebGPUProgram binds one output per program,
 * so where the direct path does not run (profiling, `dispatch: 'program'`) the sum and the rows
 * take two programs; the rows program re-adds x + res per element (the same f32 sum) rather than
 * reading the sum's buffer. Both paths give the same bits.
 */
export const addRmsNormWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = asWebGPU(MbqAddRmsNorm, backend);
  const { x, residual, gamma } = inputs as MbqAddRmsNormInputs;
  const { eps } = attrs as unknown as MbqAddRmsNormAttrs;
  const { rows, C } = addRmsNormDims(x.shape, residual.shape, gamma.shape);
  if (rows === 0) return [gpu.makeTensorInfo(x.shape, 'float32'), gpu.makeTensorInfo(x.shape, 'float32')];
  const opts = fusedRunOptions(gpu, [rows, C], GAMMA);
  const y = opts.output ?? gpu.makeTensorInfo([rows, C], 'float32');
  const sum = fusedOutput(gpu, [rows, C]) ?? gpu.makeTensorInfo([rows, C], 'float32');
  const rowsIn = [withShape(x, [rows, C]), withShape(residual, [rows, C]), gamma];
  const uniforms = [i32u(rows), f32u(eps)];
  if (!recordProgram(gpu, rmsNormProgram(rows, C, 'add-write-sum'), rowsIn, y, [{ name: SUM_OUTPUT, tensor: sum }], uniforms, opts)) {
    const flat = [withShape(x, [rows * C]), withShape(residual, [rows * C])];
    runProgram(gpu, addProgram(rows * C), flat, 'float32', [], { ...opts, constant: undefined, output: withShape(sum, [rows * C]) });
    runProgram(gpu, rmsNormProgram(rows, C, 'add'), rowsIn, 'float32', uniforms, { ...opts, output: y });
  }
  return [withShape(y, x.shape), withShape(sum, x.shape)];
};

export const addRmsNormWebGPUConfig: KernelConfig = { kernelName: MbqAddRmsNorm, backendName: 'webgpu', kernelFunc: addRmsNormWebGPU };
