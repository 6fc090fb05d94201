/**
 * LLaVA-1.5 (`LlavaForConditionalGeneration`): everything the importer knows about it, in one
 * place (as llm-awq keeps one file per architecture): config fields with transformers' defaults,
 * the checkpoint tensor layouts transformers loads, and the forward pass as a graph.
 *
 * transformers' LLaVA: CLIP vision tower (conv patch embedding without bias, class embedding,
 * position embedding, pre_layrnorm, encoder layers) -> hidden_states[vision_feature_layer]
 * (index 0 = pre_layrnorm output; a list concatenates along channels) -> `default` strategy drops
 * the CLS feature -> projector linear_1, act, linear_2 -> the features replace the `<image>`
 * tokens -> LLaMA decoder (RMSNorm, RoPE, GQA, SiLU-gated MLP) -> lm_head.
 */
import { ImportError } from '../errors.js';
import type { Ops } from '../graph/ops.js';
import { activation, decoderStack, encoderAttention, layerNorm, linear, mergeImage, ropeInputs, type Activation, type DecoderConfig, type RopeConfig } from '../graph/layers.js';
import type { SafetensorsCheckpoint } from '../safetensors/index.js';
import { ConfigFields, isRecord } from './config_fields.js';
import type { WeightSpec } from './plan.js';

export const LLAVA_ARCHITECTURE = 'LlavaForConditionalGeneration';

export interface ClipVisionConfig {
  imageSize: number;
  patchSize: number;
  channels: number;
  hidden: number;
  mlp: number;
  layers: number;
  heads: number;
  act: Activation;
  eps: number;
}

export interface LlamaTextConfig extends DecoderConfig {
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

export interface LlavaConfig {
  vision: ClipVisionConfig;
  text: LlamaTextConfig;
  projectorAct: Activation;
  projectorBias: boolean;
  /** Indices into the vision tower's hidden states (0 = embeddings after pre_layrnorm), concatenated in this order. */
  featureLayers: number[];
  /** Encoder layers the features need (later layers are not part of the graph). */
  visionLayersUsed: number;
  selectStrategy: 'default' | 'full';
  imageTokenId: number;
  /** Image features per image = image tokens in the prompt. */
  imageTokenCount: number;
}

const ACTS: readonly Activation[] = ['gelu', 'gelu_pytorch_tanh', 'quick_gelu', 'silu'];

/** transformers' LlavaConfig when vision_config is absent: the CLIP ViT-L/14-336 of LLaVA-1.5. */
const LLAVA_DEFAULT_VISION = { hidden_size: 1024, intermediate_size: 4096, patch_size: 14, image_size: 336, num_hidden_layers: 24, num_attention_heads: 16 };

function clipVision(v: ConfigFields): ClipVisionConfig {
  const modelType = v.has('model_type') ? v.obj.model_type : 'clip_vision_model';
  if (modelType !== 'clip_vision_model') {
    throw new ImportError('ARCHITECTURE', `${v.file}: vision_config.model_type ${JSON.stringify(modelType)} is not supported for ${LLAVA_ARCHITECTURE} (supported: clip_vision_model)`, v.file);
  }
  // CLIPVisionConfig defaults.
  const c: ClipVisionConfig = {
    imageSize: v.int('image_size', 224), patchSize: v.int('patch_size', 32), channels: v.int('num_channels', 3),
    hidden: v.int('hidden_size', 768), mlp: v.int('intermediate_size', 3072), layers: v.int('num_hidden_layers', 12),
    heads: v.int('num_attention_heads', 12), act: v.oneOf('hidden_act', ACTS, 'quick_gelu'), eps: v.num('layer_norm_eps', 1e-5),
  };
  if (c.imageSize % c.patchSize !== 0) throw new ImportError('CONFIG', `${v.file}: vision_config.image_size ${c.imageSize} is not a multiple of patch_size ${c.patchSize}`, v.file);
  if (c.hidden % c.heads !== 0) throw new ImportError('CONFIG', `${v.file}: vision_config.hidden_size ${c.hidden} is not a multiple of num_attention_heads ${c.heads}`, v.file);
  if (c.channels !== 3) throw new ImportError('CONFIG', `${v.file}: vision_config.num_channels ${c.channels} is not supported (RGB images: 3)`, v.file);
  return c;
}

/** rope_parameters (transformers 5) or rope_theta + rope_scaling (transformers 4); default and linear types. */
function ropeOf(t: ConfigFields, headDim: number, maxSeq: number): RopeConfig {
  const params = t.record('rope_parameters') ?? t.record('rope_scaling');
  const theta = params?.has('rope_theta') ? params.num('rope_theta') : t.num('rope_theta', 10000);
  const type = params ? (params.has('rope_type') ? params.obj.rope_type : params.obj.type ?? 'default') : 'default';
  if (type === 'default') return { headDim, theta, maxSeq, angles: 'float32' };
  if (type === 'linear') return { headDim, theta, maxSeq, angles: 'float32', positionDivisor: params!.num('factor') };
  throw new ImportError('CONFIG', `${t.file}: ${t.where}.rope type ${JSON.stringify(type)} is not supported (default, linear)`, t.file);
}

function llamaText(t: ConfigFields, topTie: boolean | undefined): LlamaTextConfig {
  const modelType = t.has('model_type') ? t.obj.model_type : 'llama';
  if (modelType !== 'llama') {
    throw new ImportError('ARCHITECTURE', `${t.file}: text_config.model_type ${JSON.stringify(modelType)} is not supported for ${LLAVA_ARCHITECTURE} (supported: llama)`, t.file);
  }
  // LlamaConfig defaults.
  const hidden = t.int('hidden_size', 4096);
  const heads = t.int('num_attention_heads', 32);
  const kvHeads = t.int('num_key_value_heads', heads);
  const headDim = t.int('head_dim', Math.floor(hidden / heads));
  const maxSeq = t.int('max_position_embeddings', 2048);
  if (heads % kvHeads !== 0) throw new ImportError('CONFIG', `${t.file}: text_config.num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`, t.file);
  if (headDim % 2 !== 0) throw new ImportError('CONFIG', `${t.file}: text_config head_dim ${headDim} is odd (RoPE rotates pairs)`, t.file);
  if (t.oneOf('hidden_act', ACTS, 'silu') !== 'silu') throw new ImportError('CONFIG', `${t.file}: text_config.hidden_act must be silu (LLaMA's gated MLP)`, t.file);
  for (const k of ['attention_bias', 'mlp_bias']) {
    if (t.bool(k, false)) throw new ImportError('CONFIG', `${t.file}: text_config.${k} true is not supported for a LLaMA decoder`, t.file);
  }
  const optionalId = (k: string): number | undefined => (typeof t.obj[k] === 'number' ? t.int(k, undefined, 0) : undefined);
  return {
    vocab: t.int('vocab_size', 32000), hidden, mlp: t.int('intermediate_size', 11008), layers: t.int('num_hidden_layers', 32),
    heads, kvHeads, headDim, eps: t.num('rms_norm_eps', 1e-6), maxSeq, rope: ropeOf(t, headDim, maxSeq),
    tieWordEmbeddings: t.has('tie_word_embeddings') ? t.bool('tie_word_embeddings', false) : topTie ?? false,
    bosTokenId: optionalId('bos_token_id'), eosTokenId: optionalId('eos_token_id'), padTokenId: optionalId('pad_token_id'),
  };
}

export function parseLlavaConfig(config: unknown, file: string): LlavaConfig {
  if (!isRecord(config)) throw new ImportError('CONFIG', `${file}: expected a JSON object`, file);
  const top = new ConfigFields(config, file, '');
  const vision = clipVision(top.record('vision_config') ?? new ConfigFields({ ...LLAVA_DEFAULT_VISION }, file, 'vision_config'));
  const text = llamaText(top.record('text_config') ?? new ConfigFields({}, file, 'text_config'), top.has('tie_word_embeddings') ? top.bool('tie_word_embeddings', false) : undefined);
  const raw = config.vision_feature_layer ?? -2;
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0 || !list.every((l) => typeof l === 'number' && Number.isInteger(l) && l >= -(vision.layers + 1) && l <= vision.layers)) {
    throw new ImportError('CONFIG', `${file}: vision_feature_layer ${JSON.stringify(raw)} must be an integer (or a list) in [-${vision.layers + 1}, ${vision.layers}]`, file);
  }
  const featureLayers = (list as number[]).map((l) => (l < 0 ? vision.layers + 1 + l : l));
  const selectStrategy = top.oneOf('vision_feature_select_strategy', ['default', 'full'] as const, 'default');
  const patches = (vision.imageSize / vision.patchSize) ** 2;
  const imageTokenCount = selectStrategy === 'default' ? patches : patches + 1;
  if (top.has('image_seq_length') && top.int('image_seq_length') !== imageTokenCount) {
    throw new ImportError('CONFIG', `${file}: image_seq_length ${String(config.image_seq_length)} does not match the vision tower (${imageTokenCount} features of a ${vision.imageSize}px image, patch ${vision.patchSize}, strategy ${selectStrategy})`, file);
  }
  const imageTokenId = top.has('image_token_index') ? top.int('image_token_index', undefined, 0) : top.int('image_token_id', 32000, 0);
  return {
    vision, text, projectorAct: top.oneOf('projector_hidden_act', ACTS, 'gelu'), projectorBias: top.bool('multimodal_projector_bias', true),
    featureLayers, visionLayersUsed: Math.max(...featureLayers), selectStrategy, imageTokenId, imageTokenCount,
  };
}

/** Where each part of the model sits in the checkpoint: prefixes of the layouts transformers loads. */
export interface LlavaLayout {
  vision: string;
  text: string;
  lmHead: string;
  projector: string;
}

/**
 * transformers 4.x publishes `language_model.model.*`, `language_model.lm_head.*`,
 * `vision_tower.vision_model.*`, `multi_modal_projector.*`; transformers >= 4.52 holds
 * `model.language_model.*`, `model.vision_tower.*`, `model.multi_modal_projector.*`, `lm_head.*` in
 * memory and maps the old names onto them (LlavaModel._checkpoint_conversion_mapping); 5.17's
 * save_pretrained writes `language_model.model.*` with `vision_tower.*` (no inner `vision_model.`).
 */
const CANDIDATES: { [K in keyof LlavaLayout]: { probe: string; prefixes: string[] } } = {
  vision: { probe: 'embeddings.patch_embedding.weight', prefixes: ['vision_tower.vision_model.', 'vision_tower.', 'model.vision_tower.vision_model.', 'model.vision_tower.'] },
  text: { probe: 'embed_tokens.weight', prefixes: ['language_model.model.', 'model.language_model.'] },
  lmHead: { probe: 'weight', prefixes: ['language_model.lm_head.', 'lm_head.'] },
  projector: { probe: 'linear_1.weight', prefixes: ['multi_modal_projector.', 'model.multi_modal_projector.'] },
};

export function llavaLayout(ckpt: SafetensorsCheckpoint, tied: boolean): LlavaLayout {
  const find = (part: keyof LlavaLayout): string => {
    const { probe, prefixes } = CANDIDATES[part];
    const hits = prefixes.filter((p) => ckpt.has(p + probe));
    if (hits.length === 1) return hits[0]!;
    if (hits.length === 0 && part === 'lmHead' && tied) return '';
    const what = hits.length === 0 ? 'none of' : 'more than one of';
    throw new ImportError('TENSOR_NAME', `${ckpt.source}: ${what} ${prefixes.map((p) => `'${p}${probe}'`).join(', ')} found: not a LLaVA checkpoint layout transformers loads`, ckpt.source);
  };
  return { vision: find('vision'), text: find('text'), lmHead: find('lmHead'), projector: find('projector') };
}

/** Every graph weight with its checkpoint source, in graph order. */
export function llavaWeights(c: LlavaConfig, l: LlavaLayout): WeightSpec[] {
  const specs: WeightSpec[] = [];
  const v = c.vision;
  const t = c.text;
  const copy = (name: string, source: string, shape: number[], sourceShape = shape): void => {
    specs.push({ name, shape, source, sourceShape, transform: { kind: 'copy' } });
  };
  const lin = (name: string, source: string, k: number, n: number, bias: boolean): void => {
    specs.push({ name: `${name}/weight`, shape: [k, n], source: `${source}.weight`, sourceShape: [n, k], transform: { kind: 'transpose' } });
    if (bias) copy(`${name}/bias`, `${source}.bias`, [n]);
  };
  const norm = (name: string, source: string, n: number, bias: boolean): void => {
    copy(`${name}/weight`, `${source}.weight`, [n]);
    if (bias) copy(`${name}/bias`, `${source}.bias`, [n]);
  };
  const patches = (v.imageSize / v.patchSize) ** 2;
  const vp = l.vision;
  specs.push({
    name: 'vision/embeddings/patch_embedding/weight', shape: [v.patchSize * v.patchSize * v.channels, v.hidden],
    source: `${vp}embeddings.patch_embedding.weight`, sourceShape: [v.hidden, v.channels, v.patchSize, v.patchSize], transform: { kind: 'conv_patch' },
  });
  copy('vision/embeddings/class_embedding/weight', `${vp}embeddings.class_embedding`, [1, 1, v.hidden], [v.hidden]);
  copy('vision/embeddings/position_embedding/weight', `${vp}embeddings.position_embedding.weight`, [patches + 1, v.hidden]);
  norm('vision/pre_layrnorm', `${vp}pre_layrnorm`, v.hidden, true);
  for (let i = 0; i < c.visionLayersUsed; i++) {
    const p = `vision/layers.${i}`;
    const s = `${vp}encoder.layers.${i}`;
    norm(`${p}/layer_norm1`, `${s}.layer_norm1`, v.hidden, true);
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) lin(`${p}/self_attn/${proj}`, `${s}.self_attn.${proj}`, v.hidden, v.hidden, true);
    norm(`${p}/layer_norm2`, `${s}.layer_norm2`, v.hidden, true);
    lin(`${p}/mlp/fc1`, `${s}.mlp.fc1`, v.hidden, v.mlp, true);
    lin(`${p}/mlp/fc2`, `${s}.mlp.fc2`, v.mlp, v.hidden, true);
  }
  lin('projector/linear_1', `${l.projector}linear_1`, v.hidden * c.featureLayers.length, t.hidden, c.projectorBias);
  lin('projector/linear_2', `${l.projector}linear_2`, t.hidden, t.hidden, c.projectorBias);
  const tp = l.text;
  const kv = t.kvHeads * t.headDim;
  copy('lm/embed_tokens/weight', `${tp}embed_tokens.weight`, [t.vocab, t.hidden]);
  for (let i = 0; i < t.layers; i++) {
    const p = `lm/layers.${i}`;
    const s = `${tp}layers.${i}`;
    norm(`${p}/input_layernorm`, `${s}.input_layernorm`, t.hidden, false);
    lin(`${p}/self_attn/q_proj`, `${s}.self_attn.q_proj`, t.hidden, t.heads * t.headDim, false);
    lin(`${p}/self_attn/k_proj`, `${s}.self_attn.k_proj`, t.hidden, kv, false);
    lin(`${p}/self_attn/v_proj`, `${s}.self_attn.v_proj`, t.hidden, kv, false);
    lin(`${p}/self_attn/o_proj`, `${s}.self_attn.o_proj`, t.heads * t.headDim, t.hidden, false);
    norm(`${p}/post_attention_layernorm`, `${s}.post_attention_layernorm`, t.hidden, false);
    lin(`${p}/mlp/gate_proj`, `${s}.mlp.gate_proj`, t.hidden, t.mlp, false);
    lin(`${p}/mlp/up_proj`, `${s}.mlp.up_proj`, t.hidden, t.mlp, false);
    lin(`${p}/mlp/down_proj`, `${s}.mlp.down_proj`, t.mlp, t.hidden, false);
  }
  norm('lm/norm', `${tp}norm`, t.hidden, false);
  // Tied (or absent under tie_word_embeddings): lm_head is the embedding table, transposed.
  lin('lm/lm_head', l.lmHead === '' ? `${tp}embed_tokens` : `${l.lmHead.slice(0, -1)}`, t.hidden, t.vocab, false);
  return specs;
}

/** Checkpoint tensors LLaVA holds but its forward never reads (unused vision layers, CLIP's post_layernorm, buffers). */
export function llavaUnusedTensor(c: LlavaConfig, l: LlavaLayout, name: string): boolean {
  if (name.startsWith(`${l.vision}post_layernorm.`) || name === `${l.vision}embeddings.position_ids` || name.endsWith('.rotary_emb.inv_freq')) return true;
  const m = name.startsWith(`${l.vision}encoder.layers.`) ? /^(\d+)\./.exec(name.slice(`${l.vision}encoder.layers.`.length)) : null;
  return m !== null && Number(m[1]) >= c.visionLayersUsed && Number(m[1]) < c.vision.layers;
}

/** CLIP vision tower up to the feature layers, feature selection and projector: pixels [B, H, W, 3] -> [B, imageTokens, textHidden]. */
function imageFeatures<T>(o: Ops<T>, c: LlavaConfig, pixels: T): T {
  const v = c.vision;
  const grid = v.imageSize / v.patchSize;
  const ps = v.patchSize;
  // Conv2d with stride = kernel as a matmul over non-overlapping patches (rows in (y, x, c) order).
  let x = o.reshape('vision/embeddings/patchify/Reshape', pixels, [-1, grid, ps, grid, ps, v.channels]);
  x = o.transpose('vision/embeddings/patchify/Transpose', x, [0, 1, 3, 2, 4, 5]);
  x = o.reshape('vision/embeddings/patchify/Reshape_1', x, [-1, grid * grid, ps * ps * v.channels]);
  x = linear(o, 'vision/embeddings/patch_embedding', x, false);
  // The class embedding as a row of the batch: 0 · (first patch) + class_embedding keeps the batch dimension.
  const first = o.slice('vision/embeddings/class/first_patch', x, 3, 1, 0, 1);
  const zero = o.mul('vision/embeddings/class/zero', first, o.constant('vision/embeddings/class/zero_scale', Float32Array.of(0), []));
  const cls = o.add('vision/embeddings/class/add', zero, o.param('vision/embeddings/class_embedding/weight'));
  x = o.concat('vision/embeddings/concat_class', [cls, x], 1);
  x = o.add('vision/embeddings/position_embedding/add', x, o.param('vision/embeddings/position_embedding/weight'));
  x = layerNorm(o, 'vision/pre_layrnorm', x, v.eps);
  const states: T[] = [x];
  for (let i = 0; i < c.visionLayersUsed; i++) {
    const p = `vision/layers.${i}`;
    x = o.add(`${p}/residual_attn`, x, encoderAttention(o, `${p}/self_attn`, layerNorm(o, `${p}/layer_norm1`, x, v.eps), v.heads, v.hidden / v.heads));
    const h = layerNorm(o, `${p}/layer_norm2`, x, v.eps);
    x = o.add(`${p}/residual_mlp`, x, linear(o, `${p}/mlp/fc2`, activation(o, v.act, `${p}/mlp/act`, linear(o, `${p}/mlp/fc1`, h, true)), true));
    states.push(x);
  }
  const selected = c.featureLayers.map((l, j) => (c.selectStrategy === 'default' ? o.slice(`vision/select/drop_cls.${j}`, states[l]!, 3, 1, 1, null) : states[l]!));
  const features = selected.length === 1 ? selected[0]! : o.concat('vision/select/concat_layers', selected, 2);
  return linear(o, 'projector/linear_2', activation(o, c.projectorAct, 'projector/act', linear(o, 'projector/linear_1', features, c.projectorBias)), c.projectorBias);
}

/** pixels [B, H, W, 3] (the image processor's output, NHWC), ids [B, S] with the image tokens at [offset, offset + count) -> logits [B, S, vocab]. */
export function llavaForward<T>(o: Ops<T>, c: LlavaConfig, pixels: T, ids: T, imageTokenOffset: number): T {
  const vision = imageFeatures(o, c, pixels);
  const emb = o.embed('lm/embed_tokens/Gather', o.param('lm/embed_tokens/weight'), ids);
  const h = mergeImage(o, emb, vision, imageTokenOffset, c.imageTokenCount);
  const normed = decoderStack(o, c.text, h, ropeInputs(o, c.text.rope, ids));
  return o.output('logits', o.matMul('lm/lm_head/MatMul', normed, o.param('lm/lm_head/weight')));
}
