import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqDequantizeGroupwise, MbqDequantizeGroupwiseAttrs, MbqDequantizeGroupwiseInputs } from '../../kernel_names.js';
import { unpackCodes } from '../../packing.js';
import { hostIO } from './backend_io.js';
import { dequantizeCodes } from './quantize_impl.js';

/** Host-memory kernel (cpu; also wasm): unpack the codes, then (q - zero) * scale. */
export const dequantizeGroupwiseHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO(MbqDequantizeGroupwise, backend);
  const { packed, scales, zeros } = inputs as MbqDequantizeGroupwiseInputs;
  const { bits, groupSize, inFeatures: K } = attrs as unknown as MbqDequantizeGroupwiseAttrs;
  const N = packed.shape[0];
  const codes = unpackCodes(io.read(packed), N, K, bits);
  return io.make([N, K], 'float32', dequantizeCodes(codes, N, K, groupSize, io.read(scales), io.read(zeros)));
};

export const dequantizeGroupwiseCpuConfig: KernelConfig = {
  kernelName: MbqDequantizeGroupwise,
  backendName: 'cpu',
  kernelFunc: dequantizeGroupwiseHost,
};
