import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqAddRmsNorm, MbqAddRmsNormAttrs, MbqAddRmsNormInputs } from '../../kernel_names.js';
import { addRmsNormDims } from '../fused_common.js';
import { hostIO } from './backend_io.js';
import { rmsNormRows } from './rms_norm.js';

/**
 * Host-memory kernel (cpu; also wasm): sum = x + residual rounded to float32 (what Add gives),
 * then MbqRmsNorm's rows over the sum, so the outputs equal Add followed by MbqRmsNorm bit for bit.
 */
export const addRmsNormHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO(MbqAddRmsNorm, backend);
  const { x, residual, gamma } = inputs as MbqAddRmsNormInputs;
  const { eps } = attrs as unknown as MbqAddRmsNormAttrs;
  const { rows, C } = addRmsNormDims(x.shape, residual.shape, gamma.shape);
  const xv = io.read(x);
  const rv = io.read(residual);
  const sum = new Float32Array(rows * C);
  for (let i = 0; i < sum.length; i++) sum[i] = xv[i]! + rv[i]!;
  const y = rmsNormRows(sum, io.read(gamma), rows, C, eps);
  return [io.make(x.shape, 'float32', y), io.make(x.shape, 'float32', sum)];
};

export const addRmsNormCpuConfig: KernelConfig = { kernelName: MbqAddRmsNorm, backendName: 'cpu', kernelFunc: addRmsNormHost };
