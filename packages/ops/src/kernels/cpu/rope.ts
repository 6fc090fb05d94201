import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqRope, MbqRopeAttrs, MbqRopeInputs } from '../../kernel_names.js';
import { ropeDims } from '../fused_common.js';
import { hostIO } from './backend_io.js';

/** Host-memory kernel (cpu; also wasm): y = x·cos + rotate_half(x)·sin per rotated head. */
export const ropeHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO(MbqRope, backend);
  const { x, cos, sin } = inputs as MbqRopeInputs;
  const a = attrs as unknown as MbqRopeAttrs;
  const { rows, L, cosRows } = ropeDims(x.shape, cos.shape, sin.shape, a);
  const d = a.headDim;
  const half = d / 2;
  const xv = io.read(x);
  const cv = io.read(cos);
  const sv = io.read(sin);
  const out = Float32Array.from(xv);
  for (let r = 0; r < rows; r++) {
    const cr = (r % cosRows) * d;
    for (let h = 0; h < a.heads; h++) {
      const o = r * L + h * d;
      for (let j = 0; j < d; j++) {
        const rot = j < half ? -xv[o + j + half]! : xv[o + j - half]!;
        out[o + j] = xv[o + j]! * cv[cr + j]! + rot * sv[cr + j]!;
      }
    }
  }
  return io.make(x.shape, 'float32', out);
};

export const ropeCpuConfig: KernelConfig = { kernelName: MbqRope, backendName: 'cpu', kernelFunc: ropeHost };
