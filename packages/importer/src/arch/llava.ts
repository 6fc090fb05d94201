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
import { ACTIVATIONS, activation, layerNorm, linear, ropeInputs, type Activation } from '../graph/layers.js';
import type { SafetensorsCheckpoint } from '../safetensors/index.js';
import { ConfigFields, isRecord } from './config_fields.js';
import { findPrefix, isLayerInRange, type PartCandidates } from './layout.js';
import { WeightPlan, type WeightSpec } from './plan.js';
import { decoderForward, decoderTextConfig, decoderWeights, type TextConfig, type TextFamily } from './text_config.js';
import { patchify, vitLayer, vitLayerWeights } from './vit.js';

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

export type LlamaTextConfig = TextConfig;

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
    heads: v.int('num_attention_heads', 12), act: v.oneOf('hidden_act', ACTIVATIONS, 'quick_gelu'), eps: v.num('layer_norm_eps', 1e-5),
  };
  if (c.imageSize % c.patchSize !== 0) throw new ImportError('CONFIG', `${v.file}: vision_config.image_size ${c.imageSize} is not a multiple of patch_size ${c.patchSize}`, v.file);
  if (c.hidden % c.heads !== 0) throw new ImportError('CONFIG', `${v.file}: vision_config.hidden_size ${c.hidden} is not a multiple of num_attention_heads ${c.heads}`, v.file);
  if (c.channels !== 3) throw new ImportError('CONFIG', `${v.file}: vision_config.num_channels ${c.channels} is not supported (RGB images: 3)`, v.file);
  return c;
}

/** LlamaConfig's defaults. */
const LLAMA: TextFamily = {
  architecture: LLAVA_ARCHITECTURE, modelTypes: ['llama'], qkvBias: 'attention_bias',
  defaults: { vocab: 32000, hidden: 4096, mlp: 11008, layers: 32, heads: 32, maxSeq: 2048, theta: 10000 },
};

/**
 * `vision_feature_layer` (an index or a list) as indices into the tower's hidden states, 0 being
 * the embeddings and `layers` the last encoder layer's output.
 */
export function parseFeatureLayers(raw: unknown, layers: number, file: string): number[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0 || !list.every((l) => typeof l === 'number' && Number.isInteger(l) && l >= -(layers + 1) && l <= layers)) {
    throw new ImportError('CONFIG', `${file}: vision_feature_layer ${JSON.stringify(raw)} must be an integer (or a list) in [-${layers + 1}, ${layers}]`, file);
  }
  return (list as number[]).map((l) => (l < 0 ? layers + 1 + l : l));
}

export function parseLlavaConfig(config: unknown, file: string, maxPositions?: number): LlavaConfig {
  if (!isRecord(config)) throw new ImportError('CONFIG', `${file}: expected a JSON object`, file);
  const top = new ConfigFields(config, file, '');
  const vision = clipVision(top.record('vision_config') ?? new ConfigFields({ ...LLAVA_DEFAULT_VISION }, file, 'vision_config'));
  const text = decoderTextConfig(top.record('text_config') ?? new ConfigFields({}, file, 'text_config'), LLAMA, top.has('tie_word_embeddings') ? top.bool('tie_word_embeddings', false) : undefined, maxPositions);
  const featureLayers = parseFeatureLayers(config.vision_feature_layer ?? -2, vision.layers, file);
  const selectStrategy = top.oneOf('vision_feature_select_strategy', ['default', 'full'] as const, 'default');
  const patches = (vision.imageSize / vision.patchSize) ** 2;
  const imageTokenCount = selectStrategy === 'default' ? patches : patches + 1;
  if (top.has('image_seq_length') && top.int('image_seq_length') !== imageTokenCount) {
    throw new ImportError('CONFIG', `${file}: image_seq_length ${String(config.image_seq_length)} does not match the vision tower (${imageTokenCount} features of a ${vision.imageSize}px image, patch ${vision.patchSize}, strategy ${selectStrategy})`, file);
  }
  const imageTokenId = top.has('image_token_index') ? top.int('image_token_index', undefined, 0) : top.int('image_token_id', 32000, 0);
  return {
    vision, text, projectorAct: top.oneOf('projector_hidden_act', ACTIVATIONS, 'gelu'), projectorBias: top.bool('multimodal_projector_bias', true),
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
const CANDIDATES: { [K in keyof LlavaLayout]: PartCandidates } = {
  vision: { probe: 'embeddings.patch_embedding.weight', prefixes: ['vision_tower.vision_model.', 'vision_tower.', 'model.vision_tower.vision_model.', 'model.vision_tower.'] },
  text: { probe: 'embed_tokens.weight', prefixes: ['language_model.model.', 'model.language_model.'] },
  lmHead: { probe: 'weight', prefixes: ['language_model.lm_head.', 'lm_head.'] },
  projector: { probe: 'linear_1.weight', prefixes: ['multi_modal_projector.', 'model.multi_modal_projector.'] },
};

export function llavaLayout(ckpt: SafetensorsCheckpoint, tied: boolean): LlavaLayout {
  const find = (part: keyof LlavaLayout): string => findPrefix(ckpt, 'LLaVA', CANDIDATES[part], part === 'lmHead' && tied);
  return { vision: find('vision'), text: find('text'), lmHead: find('lmHead'), projector: find('projector') };
}

/** Every graph weight with its checkpoint source, in graph order. */
export function llavaWeights(c: LlavaConfig, l: LlavaLayout): WeightSpec[] {
  const w = new WeightPlan();
  const v = c.vision;
  const patches = (v.imageSize / v.patchSize) ** 2;
  const vp = l.vision;
  w.add({
    name: 'vision/embeddings/patch_embedding/weight', shape: [v.patchSize * v.patchSize * v.channels, v.hidden],
    source: `${vp}embeddings.patch_embedding.weight`, sourceShape: [v.hidden, v.channels, v.patchSize, v.patchSize], transform: { kind: 'conv_patch' },
  });
  w.copy('vision/embeddings/class_embedding/weight', `${vp}embeddings.class_embedding`, [1, 1, v.hidden], [v.hidden]);
  w.copy('vision/embeddings/position_embedding/weight', `${vp}embeddings.position_embedding.weight`, [patches + 1, v.hidden]);
  w.norm('vision/pre_layrnorm', `${vp}pre_layrnorm`, v.hidden, true);
  for (let i = 0; i < c.visionLayersUsed; i++) vitLayerWeights(w, v, vp, i);
  w.linear('projector/linear_1', `${l.projector}linear_1`, v.hidden * c.featureLayers.length, c.text.hidden, c.projectorBias);
  w.linear('projector/linear_2', `${l.projector}linear_2`, c.text.hidden, c.text.hidden, c.projectorBias);
  decoderWeights(w, c.text, l.text, l.lmHead);
  return w.specs;
}

/** Checkpoint tensors LLaVA holds but its forward never reads (unused vision layers, CLIP's post_layernorm, buffers). */
export function llavaUnusedTensor(c: LlavaConfig, l: LlavaLayout, name: string): boolean {
  if (name.startsWith(`${l.vision}post_layernorm.`) || name === `${l.vision}embeddings.position_ids` || name.endsWith('.rotary_emb.inv_freq')) return true;
  return isLayerInRange(name, `${l.vision}encoder.layers.`, c.visionLayersUsed, c.vision.layers);
}

/** CLIP vision tower up to the feature layers, feature selection and projector: pixels [B, H, W, 3] -> [B, imageTokens, textHidden]. */
function imageFeatures<T>(o: Ops<T>, c: LlavaConfig, pixels: T): T {
  const v = c.vision;
  const grid = v.imageSize / v.patchSize;
  // Conv2d with stride = kernel as a matmul over non-overlapping patches.
  let x = patchify(o, 'vision/embeddings/patchify', pixels, grid, grid, v.patchSize, v.channels);
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
    x = vitLayer(o, v, i, x);
    states.push(x);
  }
  const selected = c.featureLayers.map((l, j) => (c.selectStrategy === 'default' ? o.slice(`vision/select/drop_cls.${j}`, states[l]!, 3, 1, 1, null) : states[l]!));
  const features = selected.length === 1 ? selected[0]! : o.concat('vision/select/concat_layers', selected, 2);
  return linear(o, 'projector/linear_2', activation(o, c.projectorAct, 'projector/act', linear(o, 'projector/linear_1', features, c.projectorBias)), c.projectorBias);
}

/** pixels [B, H, W, 3] (the image processor's output, NHWC), ids [B, S] with the image tokens at [offset, offset + count) -> logits [B, S, vocab]. */
export function llavaForward<T>(o: Ops<T>, c: LlavaConfig, pixels: T, ids: T, imageTokenOffset: number): T {
  return decoderForward(o, c.text, ids, imageFeatures(o, c, pixels), imageTokenOffset, c.imageTokenCount, ropeInputs(o, c.text.rope, ids));
}
