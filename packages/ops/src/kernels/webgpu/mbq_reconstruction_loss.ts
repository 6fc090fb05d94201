import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqReconstructionLoss, MbqReconstructionLossAttrs, MbqReconstructionLossInputs } from '../../kernel_names.js';
import { combineMbqLossGpu, rowErrorSumsGpu } from './loss_programs.js';
import { asWebGPU } from './program.js';

/** WGSL: per-token error sums, then the masked combination (f32 accumulation). */
const mbqReconstructionLossWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = asWebGPU(MbqReconstructionLoss, backend);
  const { reference, output, visionMask, captionMask } = inputs as MbqReconstructionLossInputs;
  const { ratio, mode } = attrs as unknown as MbqReconstructionLossAttrs;
  const C = reference.shape[reference.shape.length - 1];
  const rows = rowErrorSumsGpu(gpu, reference, output, C, mode === 'mse');
  const loss = combineMbqLossGpu(gpu, rows, visionMask, captionMask, C, ratio, mode);
  gpu.disposeData(rows.dataId);
  return loss;
};

export const mbqReconstructionLossWebGPUConfig: KernelConfig = {
  kernelName: MbqReconstructionLoss,
  backendName: 'webgpu',
  kernelFunc: mbqReconstructionLossWebGPU,
};
