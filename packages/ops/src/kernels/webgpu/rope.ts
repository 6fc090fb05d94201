import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqRope, MbqRopeAttrs, MbqRopeInputs } from '../../kernel_names.js';
import { ropeDims } from '../fused_common.js';
import { runProgram } from './direct_dispatch.js';
import { fusedRunOptions } from './fused_options.js';
import { ropeProgram } from './fused_programs.js';
import { asWebGPU, i32u, withShape } from './program.js';

const ropeWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = asWebGPU(MbqRope, backend);
  const { x, cos, sin } = inputs as MbqRopeInputs;
  const a = attrs as unknown as MbqRopeAttrs;
  const { rows, L, cosRows } = ropeDims(x.shape, cos.shape, sin.shape, a);
  if (rows * L === 0) return gpu.makeTensorInfo(x.shape, 'float32');
  const flatCos = withShape(cos, [cosRows * a.headDim]);
  const flatSin = withShape(sin, [cosRows * a.headDim]);
  const y = runProgram(gpu, ropeProgram(rows, L), [withShape(x, [rows, L]), flatCos, flatSin], 'float32',
    [i32u(L), i32u(a.headDim), i32u(a.heads), i32u(cosRows)], fusedRunOptions(gpu, [rows, L]));
  return withShape(y, x.shape);
};

export const ropeWebGPUConfig: KernelConfig = { kernelName: MbqRope, backendName: 'webgpu', kernelFunc: ropeWebGPU };
