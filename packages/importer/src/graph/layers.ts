/**
 * Layers written once against `Ops`, shared by every model graph (imported checkpoints and the
 * fixture). Node names under `prefix` follow docs/architecture.md ("Fixture graph conventions").
 */
import type { Ops } from './ops.js';

/** x · W (+ b): weight `<prefix>/weight` [K, N], bias `<prefix>/bias` [N]. */
export function linear<T>(o: Ops<T>, prefix: string, x: T, bias: boolean): T {
  const y = o.matMul(`${prefix}/MatMul`, x, o.param(`${prefix}/weight`));
  return bias ? o.add(`${prefix}/BiasAdd`, y, o.param(`${prefix}/bias`)) : y;
}

const scalar = <T>(o: Ops<T>, name: string, v: number): T => o.constant(name, Float32Array.of(v), []);

export function layerNorm<T>(o: Ops<T>, prefix: string, x: T, eps: number): T {
  const mean = o.meanLast(`${prefix}/mean`, x);
  const centred = o.sub(`${prefix}/sub`, x, mean);
  const variance = o.meanLast(`${prefix}/variance`, o.square(`${prefix}/Square`, centred));
  const inv = o.rsqrt(`${prefix}/Rsqrt`, o.add(`${prefix}/add_eps`, variance, scalar(o, `${prefix}/eps`, eps)));
  const normed = o.mul(`${prefix}/mul`, centred, inv);
  return o.add(`${prefix}/add`, o.mul(`${prefix}/mul_gamma`, normed, o.param(`${prefix}/weight`)), o.param(`${prefix}/bias`));
}

/** x · rsqrt(mean(x²) + eps) · gamma (LLaMA's RMSNorm; the gamma Mul is what the converter folds scales into). */
export function rmsNorm<T>(o: Ops<T>, prefix: string, x: T, eps: number): T {
  const ms = o.meanLast(`${prefix}/Mean`, o.square(`${prefix}/Square`, x));
  const inv = o.rsqrt(`${prefix}/Rsqrt`, o.add(`${prefix}/add_eps`, ms, scalar(o, `${prefix}/eps`, eps)));
  return o.mul(`${prefix}/mul_gamma`, o.mul(`${prefix}/mul`, x, inv), o.param(`${prefix}/weight`));
}

/** tanh-approximated GELU (`gelu_pytorch_tanh`, `gelu_new`). */
export function geluTanh<T>(o: Ops<T>, prefix: string, x: T): T {
  const c = (name: string, v: number): T => scalar(o, `${prefix}/${name}`, v);
  const cube = o.mul(`${prefix}/cube`, o.square(`${prefix}/Square`, x), x);
  const inner = o.mul(`${prefix}/mul_k`, o.add(`${prefix}/add_cube`, x, o.mul(`${prefix}/mul_a`, cube, c('a', 0.044715))), c('k', Math.sqrt(2 / Math.PI)));
  const t = o.add(`${prefix}/add_one`, o.tanh(`${prefix}/Tanh`, inner), c('one', 1));
  return o.mul(`${prefix}/mul`, o.mul(`${prefix}/mul_x`, x, t), c('half', 0.5));
}

/** Exact GELU (`gelu`): x · (1 + erf(x / √2)) / 2. */
export function geluErf<T>(o: Ops<T>, prefix: string, x: T): T {
  const e = o.erf(`${prefix}/Erf`, o.mul(`${prefix}/mul_rsqrt2`, x, scalar(o, `${prefix}/rsqrt2`, Math.SQRT1_2)));
  const t = o.add(`${prefix}/add_one`, e, scalar(o, `${prefix}/one`, 1));
  return o.mul(`${prefix}/mul`, o.mul(`${prefix}/mul_x`, x, t), scalar(o, `${prefix}/half`, 0.5));
}

/** CLIP's `quick_gelu`: x · sigmoid(1.702 x). */
export function quickGelu<T>(o: Ops<T>, prefix: string, x: T): T {
  return o.mul(`${prefix}/mul`, x, o.sigmoid(`${prefix}/Sigmoid`, o.mul(`${prefix}/mul_k`, x, scalar(o, `${prefix}/k`, 1.702))));
}

export function silu<T>(o: Ops<T>, prefix: string, x: T): T {
  return o.mul(`${prefix}/silu`, x, o.sigmoid(`${prefix}/Sigmoid`, x));
}

export type Activation = 'gelu' | 'gelu_pytorch_tanh' | 'quick_gelu' | 'silu';
export const ACTIVATIONS: readonly Activation[] = ['gelu', 'gelu_pytorch_tanh', 'quick_gelu', 'silu'];

/** A named activation; the names are transformers' `hidden_act` values. */
export function activation<T>(o: Ops<T>, act: Activation, prefix: string, x: T): T {
  switch (act) {
    case 'gelu': return geluErf(o, prefix, x);
    case 'gelu_pytorch_tanh': return geluTanh(o, prefix, x);
    case 'quick_gelu': return quickGelu(o, prefix, x);
    case 'silu': return silu(o, prefix, x);
  }
}

/** RoPE cos/sin rows that broadcast against one head's [B, S, headDim] slice (rotate-half layout). */
export interface RopeCosSin<T> {
  cos: T;
  sin: T;
}

/**
 * Bidirectional multi-head self-attention with q/k/v/out biases (ViT / CLIP / SigLIP), x [B, S, heads·headDim];
 * `rope` rotates q and k per head (Qwen2-VL's 2-D vision RoPE).
 */
export function encoderAttention<T>(o: Ops<T>, p: string, x: T, heads: number, headDim: number, outName = 'out_proj', rope?: RopeCosSin<T>): T {
  const d = headDim;
  const q = linear(o, `${p}/q_proj`, x, true);
  const k = linear(o, `${p}/k_proj`, x, true);
  const v = linear(o, `${p}/v_proj`, x, true);
  const scale = scalar(o, `${p}/scale`, 1 / Math.sqrt(d));
  const outs: T[] = [];
  for (let h = 0; h < heads; h++) {
    const hp = `${p}/head.${h}`;
    let qh = o.slice(`${hp}/q`, q, 3, 2, h * d, (h + 1) * d);
    let kh = o.slice(`${hp}/k`, k, 3, 2, h * d, (h + 1) * d);
    if (rope) {
      qh = applyRope(o, `${hp}/rope_q`, qh, d, rope);
      kh = applyRope(o, `${hp}/rope_k`, kh, d, rope);
    }
    const vh = o.slice(`${hp}/v`, v, 3, 2, h * d, (h + 1) * d);
    const scores = o.mul(`${hp}/scale`, o.batchMatMul(`${hp}/scores`, qh, kh, true), scale);
    outs.push(o.batchMatMul(`${hp}/context`, o.softmax(`${hp}/Softmax`, scores), vh, false));
  }
  return linear(o, `${p}/${outName}`, o.concat(`${p}/concat_heads`, outs, 2), true);
}

export interface RopeConfig {
  headDim: number;
  theta: number;
  /** Rows of the cos/sin/mask tables: the longest sequence the graph runs. */
  maxSeq: number;
  /** Linear RoPE scaling: positions are divided by this (1 = none). */
  positionDivisor?: number;
  /**
   * 'float32' rounds inverse frequencies and angles to float32 as transformers computes them
   * (LLaMA's rotary embedding runs in float32); 'float64' keeps them exact (the fixture's training).
   */
  angles: 'float32' | 'float64';
}

/** transformers' `inv_freq = 1 / theta ** (arange(0, d, 2).float() / d)`: d / 2 frequencies, float32-rounded unless `angles` is float64. */
export function inverseFrequencies(d: number, theta: number, angles: RopeConfig['angles']): number[] {
  const round = angles === 'float32' ? Math.fround : (v: number): number => v;
  return Array.from({ length: d / 2 }, (_, j) => round(1 / round(Math.pow(theta, round((2 * j) / d)))));
}

/** The additive causal mask [s, s]: 0 on and below the diagonal, -1e9 above. */
export function causalMask(s: number): Float32Array {
  const mask = new Float32Array(s * s);
  for (let i = 0; i < s; i++) for (let j = i + 1; j < s; j++) mask[i * s + j] = -1e9;
  return mask;
}

/** RoPE cos/sin tables [maxSeq, headDim] (rotate-half layout, as LLaMA) and the additive causal mask [maxSeq, maxSeq]. */
export function ropeTables(r: RopeConfig): { cos: Float32Array; sin: Float32Array; mask: Float32Array } {
  const d = r.headDim;
  const s = r.maxSeq;
  const round = r.angles === 'float32' ? Math.fround : (v: number): number => v;
  const divisor = r.positionDivisor ?? 1;
  const invFreq = inverseFrequencies(d, r.theta, r.angles);
  const cos = new Float32Array(s * d);
  const sin = new Float32Array(s * d);
  for (let p = 0; p < s; p++) {
    const pos = round(p / divisor);
    for (let j = 0; j < d / 2; j++) {
      const angle = r.angles === 'float32' ? round(pos * invFreq[j]!) : pos / Math.pow(r.theta, (2 * j) / d);
      cos[p * d + j] = cos[p * d + j + d / 2] = Math.cos(angle);
      sin[p * d + j] = sin[p * d + j + d / 2] = Math.sin(angle);
    }
  }
  return { cos, sin, mask: causalMask(s) };
}

export interface RopeInputs<T> extends RopeCosSin<T> {
  mask: T;
}

/** Tables indexed by sequence position: cos/sin [maxSeq, headDim] and the additive causal mask [maxSeq, maxSeq]. */
export interface PositionTables {
  cos: Float32Array;
  sin: Float32Array;
  mask: Float32Array;
  maxSeq: number;
  headDim: number;
}

/** The rows of the RoPE tables and causal mask for positions 0..S-1 of `ids` [B, S]. */
export function ropeInputs<T>(o: Ops<T>, r: RopeConfig, ids: T): RopeInputs<T> {
  return positionInputs(o, { ...ropeTables(r), maxSeq: r.maxSeq, headDim: r.headDim }, ids);
}

/**
 * Rows 0..S-1 of per-position tables, S the length of `ids` [B, S]. The tables are indexed by the
 * token's index in the sequence, so a model whose rotary positions are not the indices (Qwen2-VL's
 * multimodal RoPE) stores its own positions in the rows, and the KV-cache step reads row S-1 as
 * for any other model.
 */
export function positionInputs<T>(o: Ops<T>, t: PositionTables, ids: T): RopeInputs<T> {
  const pos = o.positions('lm/rope/positions', ids);
  return {
    cos: o.gather('lm/rope/cos', o.constant('lm/rope/cos_table', t.cos, [t.maxSeq, t.headDim]), pos, 0),
    sin: o.gather('lm/rope/sin', o.constant('lm/rope/sin_table', t.sin, [t.maxSeq, t.headDim]), pos, 0),
    mask: o.gather(
      'lm/causal_mask/cols',
      o.gather('lm/causal_mask/rows', o.constant('lm/causal_mask/table', t.mask, [t.maxSeq, t.maxSeq]), pos, 0),
      pos,
      1,
    ),
  };
}

function applyRope<T>(o: Ops<T>, name: string, x: T, d: number, r: RopeCosSin<T>): T {
  const x1 = o.slice(`${name}/x1`, x, 3, 2, 0, d / 2);
  const x2 = o.slice(`${name}/x2`, x, 3, 2, d / 2, d);
  const rotated = o.concat(`${name}/rotate_half`, [o.neg(`${name}/Neg`, x2), x1], 2);
  return o.add(`${name}/add`, o.mul(`${name}/mul_cos`, x, r.cos), o.mul(`${name}/mul_sin`, rotated, r.sin));
}

export interface DecoderConfig {
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** RMSNorm epsilon. */
  eps: number;
  /** q/k/v projections carry biases (Qwen2), added after each MatMul as `<proj>/BiasAdd`. */
  qkvBias?: boolean;
}

/** Causal grouped-query attention with RoPE (LLaMA; Qwen2 with q/k/v biases); per-head slices so the KV planner and the converter follow it. */
export function decoderAttention<T>(o: Ops<T>, c: DecoderConfig, p: string, x: T, r: RopeInputs<T>): T {
  const d = c.headDim;
  const group = c.heads / c.kvHeads;
  const bias = c.qkvBias ?? false;
  const q = linear(o, `${p}/q_proj`, x, bias);
  const k = linear(o, `${p}/k_proj`, x, bias);
  const v = linear(o, `${p}/v_proj`, x, bias);
  const scale = scalar(o, `${p}/scale`, 1 / Math.sqrt(d));
  const keys: T[] = [];
  const values: T[] = [];
  for (let g = 0; g < c.kvHeads; g++) {
    keys.push(applyRope(o, `${p}/kv_head.${g}/rope_k`, o.slice(`${p}/kv_head.${g}/k`, k, 3, 2, g * d, (g + 1) * d), d, r));
    values.push(o.slice(`${p}/kv_head.${g}/v`, v, 3, 2, g * d, (g + 1) * d));
  }
  const outs: T[] = [];
  for (let h = 0; h < c.heads; h++) {
    const hp = `${p}/head.${h}`;
    const qh = applyRope(o, `${hp}/rope_q`, o.slice(`${hp}/q`, q, 3, 2, h * d, (h + 1) * d), d, r);
    const g = Math.floor(h / group);
    const scores = o.add(`${hp}/mask`, o.mul(`${hp}/scale`, o.batchMatMul(`${hp}/scores`, qh, keys[g]!, true), scale), r.mask);
    outs.push(o.batchMatMul(`${hp}/context`, o.softmax(`${hp}/Softmax`, scores), values[g]!, false));
  }
  const context = o.concat(`${p}/concat_heads`, outs, 2);
  return o.probe(`${p}/o_proj`, o.matMul(`${p}/o_proj/MatMul`, context, o.param(`${p}/o_proj/weight`)));
}

/** LLaMA decoder blocks `lm/layers.{i}` then the final norm `lm/norm`: h [B, S, hidden] -> normed hidden states. */
export function decoderStack<T>(o: Ops<T>, c: DecoderConfig, h: T, r: RopeInputs<T>): T {
  for (let i = 0; i < c.layers; i++) {
    const p = `lm/layers.${i}`;
    const attn = decoderAttention(o, c, `${p}/self_attn`, rmsNorm(o, `${p}/input_layernorm`, h, c.eps), r);
    h = o.add(`${p}/residual_attn`, h, attn);
    const x = rmsNorm(o, `${p}/post_attention_layernorm`, h, c.eps);
    const gate = o.matMul(`${p}/mlp/gate_proj/MatMul`, x, o.param(`${p}/mlp/gate_proj/weight`));
    const up = o.matMul(`${p}/mlp/up_proj/MatMul`, x, o.param(`${p}/mlp/up_proj/weight`));
    const act = o.mul(`${p}/mlp/act_mul`, o.mul(`${p}/mlp/silu`, gate, o.sigmoid(`${p}/mlp/Sigmoid`, gate)), up);
    const down = o.probe(`${p}/mlp/down_proj`, o.matMul(`${p}/mlp/down_proj/MatMul`, act, o.param(`${p}/mlp/down_proj/weight`)));
    h = o.add(`${p}/residual_mlp`, h, down);
  }
  return rmsNorm(o, 'lm/norm', h, c.eps);
}

/** Replaces positions [offset, offset + count) of the token embeddings with the image features (count = their length). */
export function mergeImage<T>(o: Ops<T>, emb: T, vision: T, offset: number, count: number): T {
  return o.concat('lm/merge_image/concat', [o.slice('lm/merge_image/prefix', emb, 3, 1, 0, offset), vision, o.slice('lm/merge_image/suffix', emb, 3, 1, offset + count, null)], 1);
}
