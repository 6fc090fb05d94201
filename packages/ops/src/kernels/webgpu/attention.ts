import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { MbqAttention, MbqAttentionAttrs, MbqAttentionInputs } from '../../kernel_names.js';
import { attentionDims } from '../fused_common.js';
import { runProgram } from './direct_dispatch.js';
import { fusedRunOptions } from './fused_options.js';
import { attentionProgram } from './fused_programs.js';
import { asWebGPU, f32u, i32u, withShape } from './program.js';

const attentionWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = asWebGPU(MbqAttention, backend);
  const { q, k, v, mask } = inputs as MbqAttentionInputs;
  const a = attrs as unknown as MbqAttentionAttrs;
  const { B, Sq, Sk, H, KV, d } = attentionDims(q.shape, k.shape, v.shape, mask.shape, a);
  const outShape = [B, Sq, H * d];
  if (B * Sq === 0) return gpu.makeTensorInfo(outShape, 'float32');
  const y = runProgram(gpu, attentionProgram(B, Sq, H, KV, d), [q, k, v, mask], 'float32',
    [i32u(B * Sq * H), i32u(Sq), i32u(Sk), f32u(a.scale)], fusedRunOptions(gpu, [B * Sq, H * d]));
  return withShape(y, outShape);
};

export const attentionWebGPUConfig: KernelConfig = { kernelName: MbqAttention, backendName: 'webgpu', kernelFunc: attentionWebGPU };
