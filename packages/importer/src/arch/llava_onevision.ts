/**
 * LLaVA-OneVision (`LlavaOnevisionForConditionalGeneration`): everything the importer knows about
 * it, in one place.
 *
 * transformers' OneVision, one image: the processor makes the base view (the image resized to the
 * tower's size) and the anyres tiles (the image fitted into the best of `image_grid_pinpoints`,
 * cut into tower-sized tiles). Each view goes through the SigLIP tower (conv patch embedding with
 * bias, position embedding, no class token, encoder layers; hidden_states[vision_feature_layer],
 * 0 = embeddings; no post_layernorm) and the projector (linear_1, act, linear_2). pack_image_features
 * then keeps the base view's features and lays the tiles' features out as one grid
 * (rows = tile rows · patches), unpads it to the image's aspect ratio, shrinks it when larger than
 * anyres_max_N tiles, and appends `image_newline` after every row. The features replace the image
 * tokens of a Qwen2 decoder (LLaMA with q/k/v biases).
 *
 * Supported image mode (fixed in the graph): the layout the processor makes for a square image of
 * the tower's size, i.e. base view + the tiles of the best pinpoint for it, when that needs no
 * unpadding and no shrinking (the usual 1x1 tile: (N + N + √N) image tokens, N patches per view).
 * `pixel_values` is [B, views · S, S, 3]: the views in the processor's order, stacked top to bottom.
 */
import { selectBestResolution, type ImageInputLayout, type ImageProcessorConfig } from '@tfjs-mbq/format';
import { ImportError } from '../errors.js';
import { ACTIVATIONS, activation, linear, ropeInputs, type Activation } from '../graph/layers.js';
import type { Ops } from '../graph/ops.js';
import type { SafetensorsCheckpoint } from '../safetensors/index.js';
import { ConfigFields, isRecord } from './config_fields.js';
import { findPrefix, isLayerInRange, type PartCandidates } from './layout.js';
import { parseFeatureLayers } from './llava.js';
import { WeightPlan, type WeightSpec } from './plan.js';
import { decoderForward, decoderTextConfig, decoderWeights, type TextConfig, type TextFamily } from './text_config.js';
import { patchify, vitLayer, vitLayerWeights, type VitEncoderConfig } from './vit.js';

export const LLAVA_ONEVISION_ARCHITECTURE = 'LlavaOnevisionForConditionalGeneration';

export interface SiglipVisionConfig extends VitEncoderConfig {
  imageSize: number;
  patchSize: number;
  layers: number;
}

export interface LlavaOnevisionConfig {
  vision: SiglipVisionConfig;
  text: TextConfig;
  projectorAct: Activation;
  projectorBias: boolean;
  featureLayers: number[];
  visionLayersUsed: number;
  imageTokenId: number;
  pinpoints: [number, number][];
  /** Tiles (rows, columns) of the supported layout. */
  tileGrid: [number, number];
  /** Image tokens of one image in that layout: base + tile grid + one newline per grid row. */
  imageTokenCount: number;
}

/** Qwen2Config's defaults (LlavaOnevisionConfig builds a default Qwen2 text config). */
const QWEN2: TextFamily = {
  architecture: LLAVA_ONEVISION_ARCHITECTURE, modelTypes: ['qwen2'], qkvBias: 'always',
  defaults: { vocab: 151936, hidden: 4096, mlp: 22016, layers: 32, heads: 32, maxSeq: 32768, theta: 10000 },
};

/** LlavaOnevisionConfig's vision tower when vision_config is absent (SigLIP so400m/14 at 384). */
const DEFAULT_VISION = { model_type: 'siglip_vision_model', hidden_size: 1152, intermediate_size: 4304, patch_size: 14, image_size: 384, num_hidden_layers: 26, num_attention_heads: 16, vision_use_head: false };

/** LlavaOnevisionConfig's default image_grid_pinpoints: multiples of 384 up to 6x6 tiles. */
const DEFAULT_PINPOINTS: [number, number][] = [];
for (let h = 1; h <= 6; h++) for (let w = 1; w <= 6; w++) DEFAULT_PINPOINTS.push([384 * h, 384 * w]);

function siglipVision(v: ConfigFields): SiglipVisionConfig {
  const modelType = v.has('model_type') ? v.obj.model_type : 'siglip_vision_model';
  if (modelType !== 'siglip_vision_model') {
    throw new ImportError('ARCHITECTURE', `${v.file}: vision_config.model_type ${JSON.stringify(modelType)} is not supported for ${LLAVA_ONEVISION_ARCHITECTURE} (supported: siglip_vision_model)`, v.file);
  }
  // SiglipVisionConfig defaults.
  const c: SiglipVisionConfig = {
    imageSize: v.int('image_size', 224), patchSize: v.int('patch_size', 16), hidden: v.int('hidden_size', 768), mlp: v.int('intermediate_size', 3072),
    layers: v.int('num_hidden_layers', 12), heads: v.int('num_attention_heads', 12), act: v.oneOf('hidden_act', ACTIVATIONS, 'gelu_pytorch_tanh'),
    eps: v.num('layer_norm_eps', 1e-6),
  };
  if (v.int('num_channels', 3) !== 3) throw new ImportError('CONFIG', `${v.file}: vision_config.num_channels must be 3 (RGB images)`, v.file);
  if (c.imageSize % c.patchSize !== 0) throw new ImportError('CONFIG', `${v.file}: vision_config.image_size ${c.imageSize} is not a multiple of patch_size ${c.patchSize}`, v.file);
  if (c.hidden % c.heads !== 0) throw new ImportError('CONFIG', `${v.file}: vision_config.hidden_size ${c.hidden} is not a multiple of num_attention_heads ${c.heads}`, v.file);
  return c;
}

function pinpointsOf(raw: unknown, file: string): [number, number][] {
  if (raw === undefined || raw === null) return DEFAULT_PINPOINTS;
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => Number.isInteger(x) && x > 0))) {
    throw new ImportError('CONFIG', `${file}: image_grid_pinpoints must be a list of [height, width] pairs, got ${JSON.stringify(raw)}`, file);
  }
  return raw as [number, number][];
}

/** transformers' unpad_image on a [rows, cols] feature grid of an image of `size`: the grid it keeps. */
function unpaddedGrid(rows: number, cols: number, size: [number, number]): [number, number] {
  const [oh, ow] = size;
  if (ow / oh > cols / rows) {
    const newH = Math.trunc(Math.round(oh * (cols / ow) * 1e7) / 1e7);
    return [rows - Math.floor((rows - newH) / 2) * 2, cols];
  }
  const newW = Math.trunc(Math.round(ow * (rows / oh) * 1e7) / 1e7);
  return [rows, cols - Math.floor((cols - newW) / 2) * 2];
}

export function parseLlavaOnevisionConfig(config: unknown, file: string, maxPositions?: number): LlavaOnevisionConfig {
  if (!isRecord(config)) throw new ImportError('CONFIG', `${file}: expected a JSON object`, file);
  const top = new ConfigFields(config, file, '');
  const vision = siglipVision(top.record('vision_config') ?? new ConfigFields({ ...DEFAULT_VISION }, file, 'vision_config'));
  const text = decoderTextConfig(top.record('text_config') ?? new ConfigFields({}, file, 'text_config'), QWEN2, top.has('tie_word_embeddings') ? top.bool('tie_word_embeddings', false) : undefined, maxPositions);
  const featureLayers = parseFeatureLayers(config.vision_feature_layer ?? -1, vision.layers, file);
  // 'default' drops a feature per view, which pack_image_features refuses for tiled images.
  if (top.oneOf('vision_feature_select_strategy', ['default', 'full'] as const, 'full') !== 'full') {
    throw new ImportError('CONFIG', `${file}: vision_feature_select_strategy "default" is not supported for ${LLAVA_ONEVISION_ARCHITECTURE} (transformers' anyres packing needs "full")`, file);
  }
  const aspect = typeof config.vision_aspect_ratio === 'string' ? config.vision_aspect_ratio : 'anyres_max_9';
  const maxTiles = /^anyres_max_(\d+)$/.exec(aspect);
  if (!maxTiles) throw new ImportError('CONFIG', `${file}: vision_aspect_ratio ${JSON.stringify(config.vision_aspect_ratio)} is not supported (anyres_max_N)`, file);
  const pinpoints = pinpointsOf(config.image_grid_pinpoints, file);
  const S = vision.imageSize;
  const g = S / vision.patchSize;
  const [bh, bw] = selectBestResolution(S, S, pinpoints);
  const tileGrid: [number, number] = [Math.floor(bh / S), Math.floor(bw / S)];
  const rows = g * tileGrid[0];
  const cols = g * tileGrid[1];
  const [uh, uw] = unpaddedGrid(rows, cols, [S, S]);
  if (uh !== rows || uw !== cols || Math.sqrt((rows * cols) / (Number(maxTiles[1]) * g * g)) > 1.1 || bh % S !== 0 || bw % S !== 0) {
    throw new ImportError('CONFIG', `${file}: the anyres layout of a ${S}x${S} image (pinpoint ${bh}x${bw}) needs unpadding or feature shrinking, which the importer does not support`, file);
  }
  const imageTokenId = top.has('image_token_index') ? top.int('image_token_index', undefined, 0) : top.int('image_token_id', 151646, 0);
  return {
    vision, text, projectorAct: top.oneOf('projector_hidden_act', ACTIVATIONS, 'gelu'), projectorBias: top.bool('multimodal_projector_bias', true),
    featureLayers, visionLayersUsed: Math.max(...featureLayers), imageTokenId, pinpoints, tileGrid,
    imageTokenCount: g * g + rows * (cols + 1),
  };
}

export interface LlavaOnevisionLayout {
  vision: string;
  text: string;
  lmHead: string;
  projector: string;
  /** The full tensor name of image_newline. */
  newline: string;
}

/**
 * Published checkpoints (transformers 4) hold `language_model.model.*`, `language_model.lm_head.*`,
 * `vision_tower.vision_model.*`, `multi_modal_projector.*`, `image_newline`; transformers >= 4.52
 * holds `model.language_model.*`, `model.vision_tower.*`, `model.multi_modal_projector.*`,
 * `model.image_newline`, `lm_head.*` and maps the old names (its _checkpoint_conversion_mapping);
 * 5.17's save_pretrained writes the old names with `vision_tower.*` (no inner `vision_model.`).
 */
const CANDIDATES: { [K in keyof LlavaOnevisionLayout]: PartCandidates } = {
  vision: { probe: 'embeddings.patch_embedding.weight', prefixes: ['vision_tower.vision_model.', 'vision_tower.', 'model.vision_tower.vision_model.', 'model.vision_tower.'] },
  text: { probe: 'embed_tokens.weight', prefixes: ['language_model.model.', 'model.language_model.'] },
  lmHead: { probe: 'weight', prefixes: ['language_model.lm_head.', 'lm_head.'] },
  projector: { probe: 'linear_1.weight', prefixes: ['multi_modal_projector.', 'model.multi_modal_projector.'] },
  newline: { probe: 'image_newline', prefixes: ['', 'model.'] },
};

export function llavaOnevisionLayout(ckpt: SafetensorsCheckpoint, tied: boolean): LlavaOnevisionLayout {
  const find = (part: keyof LlavaOnevisionLayout): string => findPrefix(ckpt, 'LLaVA-OneVision', CANDIDATES[part], part === 'lmHead' && tied);
  return { vision: find('vision'), text: find('text'), lmHead: find('lmHead'), projector: find('projector'), newline: `${find('newline')}image_newline` };
}

export function llavaOnevisionWeights(c: LlavaOnevisionConfig, l: LlavaOnevisionLayout): WeightSpec[] {
  const w = new WeightPlan();
  const v = c.vision;
  const vp = l.vision;
  w.add({
    name: 'vision/embeddings/patch_embedding/weight', shape: [v.patchSize * v.patchSize * 3, v.hidden],
    source: `${vp}embeddings.patch_embedding.weight`, sourceShape: [v.hidden, 3, v.patchSize, v.patchSize], transform: { kind: 'conv_patch' },
  });
  w.copy('vision/embeddings/patch_embedding/bias', `${vp}embeddings.patch_embedding.bias`, [v.hidden]);
  w.copy('vision/embeddings/position_embedding/weight', `${vp}embeddings.position_embedding.weight`, [(v.imageSize / v.patchSize) ** 2, v.hidden]);
  for (let i = 0; i < c.visionLayersUsed; i++) vitLayerWeights(w, v, vp, i);
  w.linear('projector/linear_1', `${l.projector}linear_1`, v.hidden * c.featureLayers.length, c.text.hidden, c.projectorBias);
  w.linear('projector/linear_2', `${l.projector}linear_2`, c.text.hidden, c.text.hidden, c.projectorBias);
  w.copy('projector/image_newline/weight', l.newline, [c.text.hidden]);
  decoderWeights(w, c.text, l.text, l.lmHead);
  return w.specs;
}

/** Tensors the forward never reads: SigLIP's post_layernorm and pooling head, unused layers, buffers. */
export function llavaOnevisionUnusedTensor(c: LlavaOnevisionConfig, l: LlavaOnevisionLayout, name: string): boolean {
  if (name.startsWith(`${l.vision}post_layernorm.`) || name.startsWith(`${l.vision}head.`) || name === `${l.vision}embeddings.position_ids` || name.endsWith('.rotary_emb.inv_freq')) return true;
  return isLayerInRange(name, `${l.vision}encoder.layers.`, c.visionLayersUsed, c.vision.layers);
}

/** The graph's input: the processor's views, stacked along H. */
export function llavaOnevisionImageInput(c: LlavaOnevisionConfig): ImageInputLayout {
  const S = c.vision.imageSize;
  return { kind: 'views', views: 1 + c.tileGrid[0] * c.tileGrid[1], viewSize: [S, S], tileGrid: c.tileGrid, imageSizeForLayout: [S, S] };
}

/** The processor must make views of the tower's size with the model's pinpoints. */
export function llavaOnevisionProcessorProblem(c: LlavaOnevisionConfig, p: ImageProcessorConfig): string | undefined {
  const S = c.vision.imageSize;
  if (p.kind !== 'anyres') return `a ${p.kind} image processor does not make LLaVA-OneVision's anyres views`;
  if (p.size.height !== S || p.size.width !== S) return `the processor makes ${p.size.height}x${p.size.width} views but the vision tower takes ${S}x${S}`;
  if (JSON.stringify(p.gridPinpoints) !== JSON.stringify(c.pinpoints)) return `image_grid_pinpoints ${JSON.stringify(p.gridPinpoints)} differ from config.json's ${JSON.stringify(c.pinpoints)}`;
  return undefined;
}

/** Every view through SigLIP and the projector, packed as transformers does: pixels [B, V·S, S, 3] -> [B, imageTokens, hidden]. */
function imageFeatures<T>(o: Ops<T>, c: LlavaOnevisionConfig, pixels: T): T {
  const v = c.vision;
  const S = v.imageSize;
  const g = S / v.patchSize;
  const views = 1 + c.tileGrid[0] * c.tileGrid[1];
  const hidden = c.text.hidden;
  // Views become batch rows: [B·V, S, S, 3].
  const perView = o.reshape('vision/views/Reshape', pixels, [-1, S, S, 3]);
  let x = linear(o, 'vision/embeddings/patch_embedding', patchify(o, 'vision/embeddings/patchify', perView, g, g, v.patchSize, 3), true);
  x = o.add('vision/embeddings/position_embedding/add', x, o.param('vision/embeddings/position_embedding/weight'));
  const states: T[] = [x];
  for (let i = 0; i < c.visionLayersUsed; i++) {
    x = vitLayer(o, v, i, x);
    states.push(x);
  }
  const selected = c.featureLayers.map((l) => states[l]!);
  const features = selected.length === 1 ? selected[0]! : o.concat('vision/select/concat_layers', selected, 2);
  const projected = linear(o, 'projector/linear_2', activation(o, c.projectorAct, 'projector/act', linear(o, 'projector/linear_1', features, c.projectorBias)), c.projectorBias);
  // Back to one row per image: [B, V·N, hidden]; the base view's N features come first.
  const n = g * g;
  const all = o.reshape('pack/views/Reshape', projected, [-1, views * n, hidden]);
  const base = o.slice('pack/base', all, 3, 1, 0, n);
  const [th, tw] = c.tileGrid;
  // Tile features as one grid: [B, th, tw, g, g, C] -> [B, th·g, tw·g, C] (pack_image_features' permute and flattens).
  let grid = o.reshape('pack/tiles/Reshape', o.slice('pack/tiles', all, 3, 1, n, null), [-1, th, tw, g, g, hidden]);
  grid = o.transpose('pack/tiles/Transpose', grid, [0, 1, 3, 2, 4, 5]);
  grid = o.reshape('pack/tiles/Reshape_1', grid, [-1, th * g, tw * g, hidden]);
  // image_newline after every grid row: 0 · (first column) + newline keeps the batch dimension.
  const column = o.slice('pack/newline/first_column', grid, 4, 2, 0, 1);
  const zero = o.mul('pack/newline/zero', column, o.constant('pack/newline/zero_scale', Float32Array.of(0), []));
  const newline = o.add('pack/newline/add', zero, o.param('projector/image_newline/weight'));
  const rows = o.concat('pack/newline/concat', [grid, newline], 2);
  const tiles = o.reshape('pack/tiles/Reshape_2', rows, [-1, th * g * (tw * g + 1), hidden]);
  return o.concat('pack/concat', [base, tiles], 1);
}

/** pixels [B, V·S, S, 3], ids [B, S] with the image tokens at [offset, offset + count) -> logits [B, S, vocab]. */
export function llavaOnevisionForward<T>(o: Ops<T>, c: LlavaOnevisionConfig, pixels: T, ids: T, imageTokenOffset: number): T {
  return decoderForward(o, c.text, ids, imageFeatures(o, c, pixels), imageTokenOffset, c.imageTokenCount, ropeInputs(o, c.text.rope, ids));
}
