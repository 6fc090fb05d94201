import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqUniformReconstructionLoss, MbqUniformReconstructionLossInputs } from '../../kernel_names.js';
import { hostIO } from './backend_io.js';
import { uniformLoss } from './loss_impl.js';

/** Host-memory kernel (cpu; also wasm): float64 accumulation, float32 scalar out. */
export const uniformReconstructionLossHost: KernelFunc = ({ inputs, backend }) => {
  const io = hostIO(MbqUniformReconstructionLoss, backend);
  const { reference, output } = inputs as MbqUniformReconstructionLossInputs;
  return io.make([], 'float32', Float32Array.of(uniformLoss(io.read(reference), io.read(output))));
};

export const uniformReconstructionLossCpuConfig: KernelConfig = {
  kernelName: MbqUniformReconstructionLoss,
  backendName: 'cpu',
  kernelFunc: uniformReconstructionLossHost,
};
