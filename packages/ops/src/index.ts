import { registerMbqOps } from './register.js';

registerMbqOps();

export { registerMbqOps } from './register.js';
export { TFJS_PEER_RANGE, WEBGPU_OLDEST_TFJS } from './peer_versions.js';
export { CACHE_UNPACKED_WEIGHTS } from './kernels/wasm/unpacked_weight_cache.js';
export * from './packing.js';
export * from './kernel_names.js';
export { pseudoQuantize } from './ops/pseudo_quantize.js';
export type { PseudoQuantizeOptions } from './ops/pseudo_quantize.js';
export { quantizeGroupwise } from './ops/quantize_groupwise.js';
export type { QuantizeGroupwiseOptions, QuantizedGroupwise } from './ops/quantize_groupwise.js';
export { dequantizeGroupwise } from './ops/dequantize_groupwise.js';
export type { DequantizeGroupwiseOptions } from './ops/dequantize_groupwise.js';
export { quantizeActivationPerToken, quantizeActivationPerTokenWithCodes } from './ops/quantize_activation_per_token.js';
export type { QuantizeActivationOptions, QuantizedActivation } from './ops/quantize_activation_per_token.js';
export { mbqReconstructionLoss } from './ops/mbq_reconstruction_loss.js';
export { uniformReconstructionLoss } from './ops/uniform_reconstruction_loss.js';
export { hadamardTransform, hadamardMatrix, hadamardPlan, paleyI, paleyII } from './ops/hadamard_transform.js';
export type { HadamardPlan, HadamardTransformOptions } from './ops/hadamard_transform.js';
export { quantizedMatMul } from './ops/quantized_matmul.js';
export { quantizedMatMulBitsError } from './kernels/quantized_matmul_common.js';
// The quantizers on host arrays (what every backend's kernels match bit for bit), for code that packs on the host.
export { groupParams, quantizeCodes, type QuantScheme, type GroupParams } from './kernels/cpu/quantize_impl.js';
export type { QuantizedMatMulOptions } from './ops/quantized_matmul.js';
export { rmsNorm } from './ops/rms_norm.js';
export { addRmsNorm } from './ops/add_rms_norm.js';
export { siluGate } from './ops/silu_gate.js';
export { rope } from './ops/rope.js';
export type { RopeOptions } from './ops/rope.js';
export { ropeAppendKv } from './ops/rope_append_kv.js';
export type { RopeAppendKvOptions } from './ops/rope_append_kv.js';
export { attention } from './ops/attention.js';
export type { AttentionOptions } from './ops/attention.js';
export { mulberry32 } from './util/prng.js';
