import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqSiluGate, MbqSiluGateInputs } from '../../kernel_names.js';
import { siluGateDims } from '../fused_common.js';
import { runProgram } from './direct_dispatch.js';
import { fusedRunOptions } from './fused_options.js';
import { siluGateProgram } from './fused_programs.js';
import { asWebGPU, i32u, withShape } from './program.js';

const siluGateWebGPU: KernelFunc = ({ inputs, backend }) => {
  const gpu = asWebGPU(MbqSiluGate, backend);
  const { x } = inputs as MbqSiluGateInputs;
  const { rows, I, outShape } = siluGateDims(x.shape);
  if (rows === 0) return gpu.makeTensorInfo(outShape, 'float32');
  const y = runProgram(gpu, siluGateProgram(rows, I), [withShape(x, [rows, 2 * I])], 'float32', [i32u(I)], fusedRunOptions(gpu, [rows, I]));
  return withShape(y, outShape);
};

export const siluGateWebGPUConfig: KernelConfig = { kernelName: MbqSiluGate, backendName: 'webgpu', kernelFunc: siluGateWebGPU };
