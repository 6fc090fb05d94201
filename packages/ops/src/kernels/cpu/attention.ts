import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqAttention, MbqAttentionAttrs, MbqAttentionInputs } from '../../kernel_names.js';
import { attentionDims } from '../fused_common.js';
import { hostIO } from './backend_io.js';

/** Host-memory kernel (cpu; also wasm): scores, softmax and the weighted sum in float64 per (b, i, h). */
export const attentionHost: KernelFunc = ({ inputs, backend, attrs }) => {
  const io = hostIO(MbqAttention, backend);
  const { q, k, v, mask } = inputs as MbqAttentionInputs;
  const a = attrs as unknown as MbqAttentionAttrs;
  const { B, Sq, Sk, H, KV, d } = attentionDims(q.shape, k.shape, v.shape, mask.shape, a);
  const qv = io.read(q), kv = io.read(k), vv = io.read(v), mv = io.read(mask);
  const out = new Float32Array(B * Sq * H * d);
  const p = new Float64Array(Sk);
  const acc = new Float64Array(d);
  const group = H / KV;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Sq; i++) {
      for (let h = 0; h < H; h++) {
        const qo = (b * Sq + i) * H * d + h * d;
        const g = Math.floor(h / group);
        let mx = -Infinity;
        for (let j = 0; j < Sk; j++) {
          const ko = (b * Sk + j) * KV * d + g * d;
          let s = 0;
          for (let c = 0; c < d; c++) s += qv[qo + c]! * kv[ko + c]!;
          p[j] = s * a.scale + mv[i * Sk + j]!;
          if (p[j]! > mx) mx = p[j]!;
        }
        let sum = 0;
        for (let j = 0; j < Sk; j++) { p[j] = Math.exp(p[j]! - mx); sum += p[j]!; }
        acc.fill(0);
        for (let j = 0; j < Sk; j++) {
          const vo = (b * Sk + j) * KV * d + g * d;
          const w = p[j]! / sum;
          for (let c = 0; c < d; c++) acc[c] += w * vv[vo + c]!;
        }
        for (let c = 0; c < d; c++) out[qo + c] = acc[c]!;
      }
    }
  }
  return io.make([B, Sq, H * d], 'float32', out);
};

export const attentionCpuConfig: KernelConfig = { kernelName: MbqAttention, backendName: 'cpu', kernelFunc: attentionHost };
