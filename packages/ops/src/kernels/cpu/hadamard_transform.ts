import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqHadamardTransform, MbqHadamardTransformAttrs, MbqHadamardTransformInputs } from '../../kernel_names.js';
import { hostIO } from './backend_io.js';
import { hadamardTransformImpl } from './hadamard_impl.js';

/** Host-memory kernel (cpu; also wasm): fast O(n log n) transform. */
export const hadamardTransformHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO(MbqHadamardTransform, backend);
  const { x } = inputs as MbqHadamardTransformInputs;
  const { inverse } = attrs as unknown as MbqHadamardTransformAttrs;
  const n = x.shape[x.shape.length - 1];
  return io.make(x.shape, 'float32', hadamardTransformImpl(io.read(x), n, inverse));
};

export const hadamardTransformCpuConfig: KernelConfig = {
  kernelName: MbqHadamardTransform,
  backendName: 'cpu',
  kernelFunc: hadamardTransformHost,
};
