import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqQuantizeGroupwise, MbqQuantizeGroupwiseAttrs, MbqQuantizeGroupwiseInputs } from '../../kernel_names.js';
import { packCodes, wordsPerRow } from '../../packing.js';
import { hostIO } from './backend_io.js';
import { groupParams, quantizeCodes } from './quantize_impl.js';

/** Host-memory kernel (cpu; also wasm). Outputs [packed, scales, zeros]. */
export const quantizeGroupwiseHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO(MbqQuantizeGroupwise, backend);
  const { w } = inputs as MbqQuantizeGroupwiseInputs;
  const { bits, groupSize } = attrs as unknown as MbqQuantizeGroupwiseAttrs;
  const [N, K] = w.shape;
  const wv = io.read(w);
  const params = groupParams(wv, groupSize, bits, 'asym');
  const packed = packCodes(quantizeCodes(wv, groupSize, params, bits, 'asym'), N, K, bits);
  return [
    io.make([N, wordsPerRow(K, bits)], 'int32', packed),
    io.make([N, K / groupSize], 'float32', params.scales),
    io.make([N, K / groupSize], 'float32', params.zeros),
  ];
};

export const quantizeGroupwiseCpuConfig: KernelConfig = {
  kernelName: MbqQuantizeGroupwise,
  backendName: 'cpu',
  kernelFunc: quantizeGroupwiseHost,
};
