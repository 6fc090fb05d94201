import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqRmsNorm, MbqRmsNormAttrs, MbqRmsNormInputs } from '../../kernel_names.js';
import { rmsNormDims } from '../fused_common.js';
import { hostIO } from './backend_io.js';

/** Host-memory kernel (cpu; also wasm): the sum of squares in float64, one row at a time. */
export const rmsNormHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO(MbqRmsNorm, backend);
  const { x, gamma } = inputs as MbqRmsNormInputs;
  const { eps } = attrs as unknown as MbqRmsNormAttrs;
  const { rows, C } = rmsNormDims(x.shape, gamma.shape);
  const xv = io.read(x);
  const g = io.read(gamma);
  const out = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += xv[o + c]! * xv[o + c]!;
    const inv = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) out[o + c] = xv[o + c]! * inv * g[c]!;
  }
  return io.make(x.shape, 'float32', out);
};

export const rmsNormCpuConfig: KernelConfig = { kernelName: MbqRmsNorm, backendName: 'cpu', kernelFunc: rmsNormHost };
