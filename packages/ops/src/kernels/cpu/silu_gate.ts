import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqSiluGate, MbqSiluGateInputs } from '../../kernel_names.js';
import { siluGateDims } from '../fused_common.js';
import { hostIO } from './backend_io.js';

/** Host-memory kernel (cpu; also wasm). */
export const siluGateHost: KernelFunc = ({ inputs, backend }) => {
  const io = hostIO(MbqSiluGate, backend);
  const { x } = inputs as MbqSiluGateInputs;
  const { rows, I, outShape } = siluGateDims(x.shape);
  const xv = io.read(x);
  const out = new Float32Array(rows * I);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < I; i++) {
      const g = xv[r * 2 * I + i]!;
      out[r * I + i] = (g / (1 + Math.exp(-g))) * xv[r * 2 * I + I + i]!;
    }
  }
  return io.make(outShape, 'float32', out);
};

export const siluGateCpuConfig: KernelConfig = { kernelName: MbqSiluGate, backendName: 'cpu', kernelFunc: siluGateHost };
