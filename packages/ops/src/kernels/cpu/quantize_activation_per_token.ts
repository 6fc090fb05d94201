import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import {
  MbqQuantizeActivationPerToken, MbqQuantizeActivationPerTokenAttrs, MbqQuantizeActivationPerTokenInputs,
} from '../../kernel_names.js';
import { hostIO } from './backend_io.js';
import { dequantizeValue, groupParams, quantizeCodes } from './quantize_impl.js';

/** Host-memory kernel (cpu; also wasm). Outputs [dequantized, codes (signed), scales [..., 1]]. */
export const quantizeActivationPerTokenHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO(MbqQuantizeActivationPerToken, backend);
  const { x } = inputs as MbqQuantizeActivationPerTokenInputs;
  const { bits } = attrs as unknown as MbqQuantizeActivationPerTokenAttrs;
  const K = x.shape[x.shape.length - 1];
  const xv = io.read(x);
  const params = groupParams(xv, K, bits, 'sym');
  const codes = quantizeCodes(xv, K, params, bits, 'sym');
  const values = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) values[i] = dequantizeValue(codes[i], params.scales[Math.floor(i / K)], 0);
  return [
    io.make(x.shape, 'float32', values),
    io.make(x.shape, 'int32', codes),
    io.make([...x.shape.slice(0, -1), 1], 'float32', params.scales),
  ];
};

export const quantizeActivationPerTokenCpuConfig: KernelConfig = {
  kernelName: MbqQuantizeActivationPerToken,
  backendName: 'cpu',
  kernelFunc: quantizeActivationPerTokenHost,
};
