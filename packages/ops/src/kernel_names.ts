/**
 * Kernel names with their typed inputs and attributes, as in tfjs-core's kernel_names.ts.
 * Every name is registered for 'cpu', 'wasm' and 'webgpu' by registerMbqOps().
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { MBQ_ADD_RMS_NORM_OP, MBQ_ATTENTION_OP, MBQ_QUANTIZED_MATMUL_OP, MBQ_RMS_NORM_OP, MBQ_ROPE_APPEND_KV_OP, MBQ_ROPE_OP, MBQ_SILU_GATE_OP } from '@tfjs-mbq/format';

/** Quantizer layouts of docs/algorithm.md §5. */
export type PseudoQuantizeMode = 'asym-group' | 'sym-channel' | 'sym-token' | 'sym-tensor';
export const PSEUDO_QUANTIZE_MODES: readonly PseudoQuantizeMode[] = ['asym-group', 'sym-channel', 'sym-token', 'sym-tensor'];

export type ReconstructionLossMode = 'mae' | 'mse';

/** Quantize then dequantize `x` (float32, same shape out). */
export const MbqPseudoQuantize = 'MbqPseudoQuantize';
export type MbqPseudoQuantizeInputs = { x: TensorInfo };
export interface MbqPseudoQuantizeAttrs {
  bits: number;
  mode: PseudoQuantizeMode;
  /** Consecutive elements of the last axis sharing one scale/zero; used by 'asym-group' only (0 otherwise). */
  groupSize: number;
}

/** w [N, K] -> packed int32 [N, wordsPerRow(K, bits)], scales f32 [N, K/g], zeros f32 [N, K/g]. */
export const MbqQuantizeGroupwise = 'MbqQuantizeGroupwise';
export type MbqQuantizeGroupwiseInputs = { w: TensorInfo };
export interface MbqQuantizeGroupwiseAttrs {
  bits: number;
  groupSize: number;
}

/** packed int32 [N, words], scales f32 [N, K/g], zeros f32 [N, K/g] -> w f32 [N, K]. */
export const MbqDequantizeGroupwise = 'MbqDequantizeGroupwise';
export type MbqDequantizeGroupwiseInputs = { packed: TensorInfo; scales: TensorInfo; zeros: TensorInfo };
export interface MbqDequantizeGroupwiseAttrs {
  bits: number;
  groupSize: number;
  /** K. */
  inFeatures: number;
}

/** x [..., K] -> [dequantized f32 [..., K], codes int32 [..., K], scales f32 [..., 1]] (symmetric per token). */
export const MbqQuantizeActivationPerToken = 'MbqQuantizeActivationPerToken';
export type MbqQuantizeActivationPerTokenInputs = { x: TensorInfo };
export interface MbqQuantizeActivationPerTokenAttrs {
  bits: number;
}

/** MBQ loss of docs/algorithm.md §4.4 -> float32 scalar. Masks have one entry per token (leading dims of reference). */
export const MbqReconstructionLoss = 'MbqReconstructionLoss';
export type MbqReconstructionLossInputs = { reference: TensorInfo; output: TensorInfo; visionMask: TensorInfo; captionMask: TensorInfo };
export interface MbqReconstructionLossAttrs {
  ratio: number;
  mode: ReconstructionLossMode;
}

/** AWQ loss: mean of (output - reference)^2 over all elements -> float32 scalar. */
export const MbqUniformReconstructionLoss = 'MbqUniformReconstructionLoss';
export type MbqUniformReconstructionLossInputs = { reference: TensorInfo; output: TensorInfo };

/** y = x · H along the last axis (H orthonormal, see hadamardPlan); inverse: y = x · Hᵀ. */
export const MbqHadamardTransform = 'MbqHadamardTransform';
export type MbqHadamardTransformInputs = { x: TensorInfo };
export interface MbqHadamardTransformAttrs {
  inverse: boolean;
}

/**
 * y [..., N] = x [..., K] · dequant(packed, scales, zeros)ᵀ, fused (docs/architecture.md,
 * "Custom graph op"): packed int32 [N, wordsPerRow(K, bits)], scales/zeros f32 [N, K/g].
 */
export const MbqQuantizedMatMul = MBQ_QUANTIZED_MATMUL_OP;
export type MbqQuantizedMatMulInputs = { x: TensorInfo; packed: TensorInfo; scales: TensorInfo; zeros: TensorInfo };
export interface MbqQuantizedMatMulAttrs {
  bits: number;
  groupSize: number;
  /** K. */
  inFeatures: number;
  /** 0: float activations; 8: per-token symmetric int8 activations (W4A8, bits = 4). */
  actBits: number;
}

/** Fused decoder ops (docs/architecture.md, "Fused decoder ops"); kernel name = graph op name. */

/** y [..., C] = x · rsqrt(mean(x², last axis) + eps) · gamma [C]. */
export const MbqRmsNorm = MBQ_RMS_NORM_OP;
export type MbqRmsNormInputs = { x: TensorInfo; gamma: TensorInfo };
export interface MbqRmsNormAttrs { eps: number }

/** x, residual [..., C] (same shape), gamma [C] -> [y = rmsNorm(x + residual) · gamma, sum = x + residual]. */
export const MbqAddRmsNorm = MBQ_ADD_RMS_NORM_OP;
export type MbqAddRmsNormInputs = { x: TensorInfo; residual: TensorInfo; gamma: TensorInfo };
export type MbqAddRmsNormAttrs = MbqRmsNormAttrs;

/** x [..., 2I] (gate | up) -> y [..., I] = gate · sigmoid(gate) · up. */
export const MbqSiluGate = MBQ_SILU_GATE_OP;
export type MbqSiluGateInputs = { x: TensorInfo };

/** Rotate-half RoPE of heads 0..heads-1 (width headDim) of x [..., n·headDim]; the rest copied. cos/sin [..., headDim]. */
export const MbqRope = MBQ_ROPE_OP;
export type MbqRopeInputs = { x: TensorInfo; cos: TensorInfo; sin: TensorInfo };
export interface MbqRopeAttrs { headDim: number; heads: number }

/** Grouped-query attention: q [B, Sq, H·d], k/v [B, Sk, KV·d], additive mask [Sq, Sk] -> [B, Sq, H·d]. */
export const MbqAttention = MBQ_ATTENTION_OP;
export type MbqAttentionInputs = { q: TensorInfo; k: TensorInfo; v: TensorInfo; mask: TensorInfo };
export interface MbqAttentionAttrs { heads: number; kvHeads: number; headDim: number; scale: number }

/**
 * RoPE, the q/k/v split and the KV-cache append in one kernel: qkv [B, S, (H + 2·KV)·d], cos/sin
 * as MbqRope's against qkv's rows, optional kPast/vPast [B, P, KV·d] -> [q [B, S, H·d] rotated,
 * k [B, P + S, KV·d] = kPast then the rotated k heads, v [B, P + S, KV·d] = vPast then the v heads].
 */
export const MbqRopeAppendKv = MBQ_ROPE_APPEND_KV_OP;
export type MbqRopeAppendKvInputs = { qkv: TensorInfo; cos: TensorInfo; sin: TensorInfo; kPast?: TensorInfo; vPast?: TensorInfo };
export interface MbqRopeAppendKvAttrs { heads: number; kvHeads: number; headDim: number }
