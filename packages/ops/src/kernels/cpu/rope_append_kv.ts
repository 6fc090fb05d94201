import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqRopeAppendKv, MbqRopeAppendKvAttrs, MbqRopeAppendKvInputs } from '../../kernel_names.js';
import { ropeAppendKvDims } from '../fused_common.js';
import { hostIO } from './backend_io.js';

/**
 * Host-memory kernel (cpu; also wasm): q = the rotated q heads of qkv; k = kPast's rows, then the
 * rotated k heads of qkv's rows; v = vPast's rows, then qkv's v heads. The rotation is MbqRope's
 * arithmetic (x·cos + rotate_half(x)·sin in float32), so the outputs equal MbqRope, the three
 * slices and the two cache concats bit for bit.
 */
export const ropeAppendKvHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO(MbqRopeAppendKv, backend);
  const { qkv, cos, sin, kPast, vPast } = inputs as MbqRopeAppendKvInputs;
  const a = attrs as unknown as MbqRopeAppendKvAttrs;
  const { B, S, P, C, Q, K, cosRows } = ropeAppendKvDims(qkv.shape, cos.shape, sin.shape, kPast?.shape, vPast?.shape, a);
  const d = a.headDim;
  const half = d / 2;
  const T = P + S;
  const xv = io.read(qkv);
  const cv = io.read(cos);
  const sv = io.read(sin);
  const q = new Float32Array(B * S * Q);
  const k = new Float32Array(B * T * K);
  const v = new Float32Array(B * T * K);
  /** Rotates `width` channels (whole heads) of x from offset `src` into `dst` at `at`, with cos/sin row `cr`. */
  const rotate = (dst: Float32Array, at: number, src: number, width: number, cr: number): void => {
    for (let h = 0; h < width; h += d) {
      for (let j = 0; j < d; j++) {
        const o = src + h + j;
        const rot = j < half ? -xv[o + half]! : xv[o - half]!;
        dst[at + h + j] = xv[o]! * cv[cr + j]! + rot * sv[cr + j]!;
      }
    }
  };
  if (P > 0) {
    const kp = io.read(kPast!);
    const vp = io.read(vPast!);
    for (let b = 0; b < B; b++) {
      k.set(kp.subarray(b * P * K, (b + 1) * P * K), b * T * K);
      v.set(vp.subarray(b * P * K, (b + 1) * P * K), b * T * K);
    }
  }
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const r = b * S + s;
      const cr = (r % cosRows) * d;
      const x = r * C;
      const kv = (b * T + P + s) * K;
      rotate(q, r * Q, x, Q, cr);
      rotate(k, kv, x + Q, K, cr);
      v.set(xv.subarray(x + Q + K, x + C), kv);
    }
  }
  return [io.make([B, S, Q], 'float32', q), io.make([B, T, K], 'float32', k), io.make([B, T, K], 'float32', v)];
};

export const ropeAppendKvCpuConfig: KernelConfig = { kernelName: MbqRopeAppendKv, backendName: 'cpu', kernelFunc: ropeAppendKvHost };
