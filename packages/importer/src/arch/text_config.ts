/**
 * The decoder's text_config as the LLaMA-style families read it (LLaMA, Qwen2, Qwen2-VL text):
 * each family passes its model types, transformers' defaults and whether q/k/v carry biases.
 */
import { ImportError } from '../errors.js';
import type { Ops } from '../graph/ops.js';
import { ACTIVATIONS, decoderStack, mergeImage, type DecoderConfig, type RopeConfig, type RopeInputs } from '../graph/layers.js';
import type { ConfigFields } from './config_fields.js';
import type { WeightPlan } from './plan.js';

export interface TextConfig extends DecoderConfig {
  vocab: number;
  hidden: number;
  mlp: number;
  maxSeq: number;
  rope: RopeConfig;
  tieWordEmbeddings: boolean;
  bosTokenId?: number;
  eosTokenId?: number;
  padTokenId?: number;
}

/** One decoder family: what its configuration class defaults to when a field is absent. */
export interface TextFamily {
  /** The architecture, for messages. */
  architecture: string;
  /** Accepted `text_config.model_type` values; the first is the default. */
  modelTypes: readonly string[];
  defaults: { vocab: number; hidden: number; mlp: number; layers: number; heads: number; kvHeads?: number; maxSeq: number; theta: number };
  /** Qwen2's attention always has q/k/v biases (no config switch); LLaMA's follow `attention_bias`. */
  qkvBias: 'always' | 'attention_bias';
}

/** rope_parameters (transformers 5) or rope_theta + rope_scaling (transformers 4); default and linear types. */
function ropeOf(t: ConfigFields, headDim: number, maxSeq: number, defaultTheta = 10000): RopeConfig {
  const params = t.record('rope_parameters') ?? t.record('rope_scaling');
  const theta = params?.has('rope_theta') ? params.num('rope_theta') : t.num('rope_theta', defaultTheta);
  const type = params ? (params.has('rope_type') ? params.obj.rope_type : params.obj.type ?? 'default') : 'default';
  // transformers 4's Qwen2-VL configs name their multimodal RoPE type "mrope": default frequencies, split by mrope_section.
  if (type === 'default' || type === 'mrope') return { headDim, theta, maxSeq, angles: 'float32' };
  if (type === 'linear') return { headDim, theta, maxSeq, angles: 'float32', positionDivisor: params!.num('factor') };
  throw new ImportError('CONFIG', `${t.file}: ${t.where}.rope type ${JSON.stringify(type)} is not supported (default, linear)`, t.file);
}

/**
 * Positions an import builds position tables for unless told otherwise: the causal mask is
 * [maxSeq, maxSeq] float32, 64 MiB at 4096 (LLaVA-1.5's context) but 4 GiB at Qwen2's 32768.
 */
export const DEFAULT_MAX_POSITIONS = 4096;
/** The most an import builds (a 1 GiB mask); config.json may state more, the graph then covers this many. */
export const MAX_POSITIONS = 16384;

/** `maxPositions`: the most positions the graph covers (config.json's max_position_embeddings when fewer). */
export function decoderTextConfig(t: ConfigFields, family: TextFamily, topTie: boolean | undefined, maxPositions = DEFAULT_MAX_POSITIONS): TextConfig {
  const modelType = t.has('model_type') ? t.obj.model_type : family.modelTypes[0];
  if (typeof modelType !== 'string' || !family.modelTypes.includes(modelType)) {
    throw new ImportError('ARCHITECTURE', `${t.file}: text_config.model_type ${JSON.stringify(modelType)} is not supported for ${family.architecture} (supported: ${family.modelTypes.join(', ')})`, t.file);
  }
  const d = family.defaults;
  const hidden = t.int('hidden_size', d.hidden);
  const heads = t.int('num_attention_heads', d.heads);
  const kvHeads = t.int('num_key_value_heads', d.kvHeads ?? heads);
  const headDim = t.int('head_dim', Math.floor(hidden / heads));
  const maxSeq = Math.min(t.int('max_position_embeddings', d.maxSeq), maxPositions);
  if (heads % kvHeads !== 0) throw new ImportError('CONFIG', `${t.file}: text_config.num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`, t.file);
  if (headDim % 2 !== 0) throw new ImportError('CONFIG', `${t.file}: text_config head_dim ${headDim} is odd (RoPE rotates pairs)`, t.file);
  if (t.oneOf('hidden_act', ACTIVATIONS, 'silu') !== 'silu') throw new ImportError('CONFIG', `${t.file}: text_config.hidden_act must be silu (the gated MLP of ${family.architecture})`, t.file);
  if (t.bool('mlp_bias', false)) throw new ImportError('CONFIG', `${t.file}: text_config.mlp_bias true is not supported`, t.file);
  const qkvBias = family.qkvBias === 'always' || t.bool('attention_bias', false);
  // LLaMA's attention_bias also puts a bias on o_proj, which the graph does not have.
  if (family.qkvBias === 'attention_bias' && qkvBias) throw new ImportError('CONFIG', `${t.file}: text_config.attention_bias true is not supported for ${family.architecture}`, t.file);
  // Sliding-window layers attend to a window only: a plain causal mask would be wrong past it.
  if (t.bool('use_sliding_window', false)) throw new ImportError('CONFIG', `${t.file}: text_config.use_sliding_window true is not supported`, t.file);
  const optionalId = (k: string): number | undefined => (typeof t.obj[k] === 'number' ? t.int(k, undefined, 0) : undefined);
  return {
    vocab: t.int('vocab_size', d.vocab), hidden, mlp: t.int('intermediate_size', d.mlp), layers: t.int('num_hidden_layers', d.layers),
    heads, kvHeads, headDim, eps: t.num('rms_norm_eps', 1e-6), maxSeq, rope: ropeOf(t, headDim, maxSeq, d.theta), qkvBias,
    tieWordEmbeddings: t.has('tie_word_embeddings') ? t.bool('tie_word_embeddings', false) : topTie ?? false,
    bosTokenId: optionalId('bos_token_id'), eosTokenId: optionalId('eos_token_id'), padTokenId: optionalId('pad_token_id'),
  };
}

/** The decoder's weights `lm/...` read from `<text>` (layers, norm) and the lm_head (tied: the embedding table). */
export function decoderWeights(w: WeightPlan, c: TextConfig, text: string, lmHead: string): void {
  const kv = c.kvHeads * c.headDim;
  const b = c.qkvBias ?? false;
  w.copy('lm/embed_tokens/weight', `${text}embed_tokens.weight`, [c.vocab, c.hidden]);
  for (let i = 0; i < c.layers; i++) {
    const p = `lm/layers.${i}`;
    const s = `${text}layers.${i}`;
    w.norm(`${p}/input_layernorm`, `${s}.input_layernorm`, c.hidden, false);
    w.linear(`${p}/self_attn/q_proj`, `${s}.self_attn.q_proj`, c.hidden, c.heads * c.headDim, b);
    w.linear(`${p}/self_attn/k_proj`, `${s}.self_attn.k_proj`, c.hidden, kv, b);
    w.linear(`${p}/self_attn/v_proj`, `${s}.self_attn.v_proj`, c.hidden, kv, b);
    w.linear(`${p}/self_attn/o_proj`, `${s}.self_attn.o_proj`, c.heads * c.headDim, c.hidden, false);
    w.norm(`${p}/post_attention_layernorm`, `${s}.post_attention_layernorm`, c.hidden, false);
    w.linear(`${p}/mlp/gate_proj`, `${s}.mlp.gate_proj`, c.hidden, c.mlp, false);
    w.linear(`${p}/mlp/up_proj`, `${s}.mlp.up_proj`, c.hidden, c.mlp, false);
    w.linear(`${p}/mlp/down_proj`, `${s}.mlp.down_proj`, c.mlp, c.hidden, false);
  }
  w.norm('lm/norm', `${text}norm`, c.hidden, false);
  // Tied (or absent under tie_word_embeddings): lm_head is the embedding table, transposed.
  w.linear('lm/lm_head', lmHead === '' ? `${text}embed_tokens` : lmHead.slice(0, -1), c.hidden, c.vocab, false);
}

/** The LM half of every forward: token embeddings with the image features at [offset, offset + count), the decoder, lm_head. */
export function decoderForward<T>(o: Ops<T>, c: TextConfig, ids: T, imageFeatures: T, imageTokenOffset: number, imageTokenCount: number, positions: RopeInputs<T>): T {
  const emb = o.embed('lm/embed_tokens/Gather', o.param('lm/embed_tokens/weight'), ids);
  const h = mergeImage(o, emb, imageFeatures, imageTokenOffset, imageTokenCount);
  const normed = decoderStack(o, c, h, positions);
  return o.output('logits', o.matMul('lm/lm_head/MatMul', normed, o.param('lm/lm_head/weight')));
}
