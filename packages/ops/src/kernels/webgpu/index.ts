/** KernelConfigs for 'webgpu' (all WGSL programs; see each file). */
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { dequantizeGroupwiseWebGPUConfig } from './dequantize_groupwise.js';
import { hadamardTransformWebGPUConfig } from './hadamard_transform.js';
import { mbqReconstructionLossWebGPUConfig } from './mbq_reconstruction_loss.js';
import { pseudoQuantizeWebGPUConfig } from './pseudo_quantize.js';
import { quantizeActivationPerTokenWebGPUConfig } from './quantize_activation_per_token.js';
import { quantizeGroupwiseWebGPUConfig } from './quantize_groupwise.js';
import { addRmsNormWebGPUConfig } from './add_rms_norm.js';
import { attentionWebGPUConfig } from './attention.js';
import { rmsNormWebGPUConfig } from './rms_norm.js';
import { ropeWebGPUConfig } from './rope.js';
import { ropeAppendKvWebGPUConfig } from './rope_append_kv.js';
import { siluGateWebGPUConfig } from './silu_gate.js';
import { uniformReconstructionLossWebGPUConfig } from './uniform_reconstruction_loss.js';

export const WEBGPU_KERNEL_CONFIGS: readonly KernelConfig[] = [
  pseudoQuantizeWebGPUConfig, quantizeGroupwiseWebGPUConfig, dequantizeGroupwiseWebGPUConfig,
  quantizeActivationPerTokenWebGPUConfig, mbqReconstructionLossWebGPUConfig, uniformReconstructionLossWebGPUConfig,
  hadamardTransformWebGPUConfig,
  rmsNormWebGPUConfig, addRmsNormWebGPUConfig, siluGateWebGPUConfig, ropeWebGPUConfig, attentionWebGPUConfig,
  ropeAppendKvWebGPUConfig,
];
