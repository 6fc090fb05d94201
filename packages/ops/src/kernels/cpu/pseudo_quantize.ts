import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqPseudoQuantize, MbqPseudoQuantizeAttrs, MbqPseudoQuantizeInputs } from '../../kernel_names.js';
import { hostIO } from './backend_io.js';
import { fakeQuantize, groupLengthFor, groupParams } from './quantize_impl.js';

/** Host-memory kernel (cpu; also wasm, which runs this same code on data read from its heap). */
export const pseudoQuantizeHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO(MbqPseudoQuantize, backend);
  const { x } = inputs as MbqPseudoQuantizeInputs;
  const { bits, mode, groupSize } = attrs as unknown as MbqPseudoQuantizeAttrs;
  const xv = io.read(x);
  const g = groupLengthFor(mode, x.shape, groupSize);
  const scheme = mode === 'asym-group' ? 'asym' : 'sym';
  const params = groupParams(xv, g, bits, scheme);
  return io.make(x.shape, 'float32', fakeQuantize(xv, g, params, bits, scheme));
};

export const pseudoQuantizeCpuConfig: KernelConfig = {
  kernelName: MbqPseudoQuantize,
  backendName: 'cpu',
  kernelFunc: pseudoQuantizeHost,
};
