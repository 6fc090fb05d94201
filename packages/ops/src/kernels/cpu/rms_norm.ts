import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqRmsNorm, MbqRmsNormAttrs, MbqRmsNormInputs } from '../../kernel_names.js';
import { rmsNormDims } from '../fused_common.js';
import { hostIO, type HostArray } from './backend_io.js';

/** y rows = x rows · rsqrt(mean(x²) + eps) · gamma, the sum of squares in float64 (MbqRmsNorm, MbqAddRmsNorm). */
export function rmsNormRows(xv: HostArray, g: HostArray, rows: number, C: number, eps: number): Float32Array {
  const out = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += xv[o + c]! * xv[o + c]!;
    const inv = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) out[o + c] = xv[o + c]! * inv * g[c]!;
  }
  return out;
}

/** Host-memory kernel (cpu; also wasm), one row at a time. */
export const rmsNormHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO(MbqRmsNorm, backend);
  const { x, gamma } = inputs as MbqRmsNormInputs;
  const { eps } = attrs as unknown as MbqRmsNormAttrs;
  const { rows, C } = rmsNormDims(x.shape, gamma.shape);
  return io.make(x.shape, 'float32', rmsNormRows(io.read(x), io.read(gamma), rows, C, eps));
};

export const rmsNormCpuConfig: KernelConfig = { kernelName: MbqRmsNorm, backendName: 'cpu', kernelFunc: rmsNormHost };
