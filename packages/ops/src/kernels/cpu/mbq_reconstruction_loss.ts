import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqReconstructionLoss, MbqReconstructionLossAttrs, MbqReconstructionLossInputs } from '../../kernel_names.js';
import { hostIO } from './backend_io.js';
import { combineMbqLoss, rowErrorSums } from './loss_impl.js';

/** Host-memory kernel (cpu; also wasm): float64 accumulation, float32 scalar out. */
export const mbqReconstructionLossHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO(MbqReconstructionLoss, backend);
  const { reference, output, visionMask, captionMask } = inputs as MbqReconstructionLossInputs;
  const { ratio, mode } = attrs as unknown as MbqReconstructionLossAttrs;
  const C = reference.shape[reference.shape.length - 1];
  const sums = rowErrorSums(io.read(reference), io.read(output), C, mode === 'mse');
  const loss = combineMbqLoss(sums, io.read(visionMask), io.read(captionMask), C, ratio, mode);
  return io.make([], 'float32', Float32Array.of(loss));
};

export const mbqReconstructionLossCpuConfig: KernelConfig = {
  kernelName: MbqReconstructionLoss,
  backendName: 'cpu',
  kernelFunc: mbqReconstructionLossHost,
};
