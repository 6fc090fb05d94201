/** registerMbqOps(): registers every kernel of this package for cpu, wasm and webgpu (idempotent). */
import * as tf from '@tensorflow/tfjs-core';
import { version_converter } from '@tensorflow/tfjs-converter';
import { checkTfjsVersion } from './peer_versions.js';
import { dequantizeGroupwiseCpuConfig } from './kernels/cpu/dequantize_groupwise.js';
import { hadamardTransformCpuConfig } from './kernels/cpu/hadamard_transform.js';
import { mbqReconstructionLossCpuConfig } from './kernels/cpu/mbq_reconstruction_loss.js';
import { pseudoQuantizeCpuConfig } from './kernels/cpu/pseudo_quantize.js';
import { quantizeActivationPerTokenCpuConfig } from './kernels/cpu/quantize_activation_per_token.js';
import { quantizeGroupwiseCpuConfig } from './kernels/cpu/quantize_groupwise.js';
import { uniformReconstructionLossCpuConfig } from './kernels/cpu/uniform_reconstruction_loss.js';
import { dequantizeGroupwiseWasmConfig } from './kernels/wasm/dequantize_groupwise.js';
import { hadamardTransformWasmConfig } from './kernels/wasm/hadamard_transform.js';
import { mbqReconstructionLossWasmConfig } from './kernels/wasm/mbq_reconstruction_loss.js';
import { pseudoQuantizeWasmConfig } from './kernels/wasm/pseudo_quantize.js';
import { quantizeActivationPerTokenWasmConfig } from './kernels/wasm/quantize_activation_per_token.js';
import { quantizeGroupwiseWasmConfig } from './kernels/wasm/quantize_groupwise.js';
import { uniformReconstructionLossWasmConfig } from './kernels/wasm/uniform_reconstruction_loss.js';
import { addRmsNormCpuConfig } from './kernels/cpu/add_rms_norm.js';
import { attentionCpuConfig } from './kernels/cpu/attention.js';
import { rmsNormCpuConfig } from './kernels/cpu/rms_norm.js';
import { ropeCpuConfig } from './kernels/cpu/rope.js';
import { ropeAppendKvCpuConfig } from './kernels/cpu/rope_append_kv.js';
import { siluGateCpuConfig } from './kernels/cpu/silu_gate.js';
import { addRmsNormWasmConfig } from './kernels/wasm/add_rms_norm.js';
import { attentionWasmConfig } from './kernels/wasm/attention.js';
import { rmsNormWasmConfig } from './kernels/wasm/rms_norm.js';
import { ropeWasmConfig } from './kernels/wasm/rope.js';
import { ropeAppendKvWasmConfig } from './kernels/wasm/rope_append_kv.js';
import { siluGateWasmConfig } from './kernels/wasm/silu_gate.js';
import { registerFusedGraphOps } from './graph/fused_ops.js';
import { WEBGPU_KERNEL_CONFIGS } from './kernels/webgpu/index.js';
import { registerQuantizedMatMul } from './kernels/register_quantized_matmul.js';
import { registerUnpackedWeightCacheFlag } from './kernels/wasm/unpacked_weight_cache.js';

const KERNEL_CONFIGS: readonly tf.KernelConfig[] = [
  pseudoQuantizeCpuConfig, quantizeGroupwiseCpuConfig, dequantizeGroupwiseCpuConfig,
  quantizeActivationPerTokenCpuConfig, mbqReconstructionLossCpuConfig, uniformReconstructionLossCpuConfig,
  hadamardTransformCpuConfig,
  pseudoQuantizeWasmConfig, quantizeGroupwiseWasmConfig, dequantizeGroupwiseWasmConfig,
  quantizeActivationPerTokenWasmConfig, mbqReconstructionLossWasmConfig, uniformReconstructionLossWasmConfig,
  hadamardTransformWasmConfig,
  rmsNormCpuConfig, addRmsNormCpuConfig, siluGateCpuConfig, ropeCpuConfig, attentionCpuConfig, ropeAppendKvCpuConfig,
  rmsNormWasmConfig, addRmsNormWasmConfig, siluGateWasmConfig, ropeWasmConfig, attentionWasmConfig, ropeAppendKvWasmConfig,
  ...WEBGPU_KERNEL_CONFIGS,
];

/**
 * Registers the kernels (keyed by backend name, so backends may be loaded before or after).
 * Throws one line naming the app's tfjs version when it is outside the supported range.
 */
export function registerMbqOps(): void {
  checkTfjsVersion('@tensorflow/tfjs-core', tf.version_core);
  checkTfjsVersion('@tensorflow/tfjs-converter', version_converter);
  for (const config of KERNEL_CONFIGS) {
    if (!tf.getKernel(config.kernelName, config.backendName)) tf.registerKernel(config);
  }
  registerQuantizedMatMul();
  registerFusedGraphOps();
  registerUnpackedWeightCacheFlag();
}
