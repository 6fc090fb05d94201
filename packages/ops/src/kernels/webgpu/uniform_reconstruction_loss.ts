import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqUniformReconstructionLoss, MbqUniformReconstructionLossInputs } from '../../kernel_names.js';
import { meanOfRowsGpu, rowErrorSumsGpu } from './loss_programs.js';
import { asWebGPU } from './program.js';

/** WGSL: per-token sums of D², then their mean over all elements (f32 accumulation). */
const uniformReconstructionLossWebGPU: KernelFunc = ({ inputs, backend }) => {
  const gpu = asWebGPU(MbqUniformReconstructionLoss, backend);
  const { reference, output } = inputs as MbqUniformReconstructionLossInputs;
  const size = reference.shape.reduce((a, b) => a * b, 1);
  const C = reference.shape.length === 0 ? 1 : reference.shape[reference.shape.length - 1];
  const rows = rowErrorSumsGpu(gpu, reference, output, C, true);
  const loss = meanOfRowsGpu(gpu, rows, size);
  gpu.disposeData(rows.dataId);
  return loss;
};

export const uniformReconstructionLossWebGPUConfig: KernelConfig = {
  kernelName: MbqUniformReconstructionLoss,
  backendName: 'webgpu',
  kernelFunc: uniformReconstructionLossWebGPU,
};
