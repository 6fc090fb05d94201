/**
 * Qwen2-VL (`Qwen2VLForConditionalGeneration`): everything the importer knows about it, in one place.
 *
 * transformers' Qwen2-VL, one image: the processor smart-resizes it (sides multiples of
 * patch · merge, area within [min_pixels, max_pixels]) and cuts 14x14 patches of `temporal_patch_size`
 * equal frames, in merge-window order (2x2 windows, raster order of windows). The vision tower: Conv3d
 * patch embedding (no bias), blocks (LayerNorm eps 1e-6, attention with a fused qkv and 2-D RoPE:
 * the first half of each head's rotary angles follow the patch row, the second the column; MLP
 * fc1 -> act -> fc2), then the patch merger (ln_q, each 2x2 window's features concatenated,
 * Linear -> GELU -> Linear). The merged features replace the `<|image_pad|>` tokens of a Qwen2
 * decoder (q/k/v biases) whose RoPE is multimodal: each token has (temporal, height, width)
 * positions; text before the image counts 0, 1, ...; image token (r, c) of the merged grid gets
 * (o, o + r, o + c) with o its offset; text after the image continues from the largest position so far
 * plus one (get_rope_index). `mrope_section` splits each head's frequencies among the three.
 *
 * Supported image mode (fixed in the graph): one image of a fixed resized size (the import option
 * `imageSize`, default the smart_resize of a 448x448 image), i.e. a fixed image_grid_thw. The graph
 * takes that resized, normalized image as NHWC `pixel_values` and cuts the patches itself; the
 * decoder's cos/sin tables hold the multimodal positions by sequence index, so a KV-cache step at
 * index i reads row i and continues positions by the max + 1 rule.
 */
import { mergeWindowOrder, smartResize, type ImageInputLayout, type ImageProcessorConfig } from '@tfjs-mbq/format';
import { ImportError } from '../errors.js';
import { ACTIVATIONS, activation, causalMask, encoderAttention, inverseFrequencies, layerNorm, linear, positionInputs, type Activation, type PositionTables, type RopeCosSin } from '../graph/layers.js';
import type { Ops } from '../graph/ops.js';
import type { SafetensorsCheckpoint } from '../safetensors/index.js';
import { ConfigFields, isRecord } from './config_fields.js';
import { findPrefix, type PartCandidates } from './layout.js';
import { WeightPlan, type WeightSpec } from './plan.js';
import { decoderForward, decoderTextConfig, decoderWeights, type TextConfig, type TextFamily } from './text_config.js';
import { patchify } from './vit.js';

export const QWEN2_VL_ARCHITECTURE = 'Qwen2VLForConditionalGeneration';

export interface Qwen2VlVisionConfig {
  depth: number;
  embed: number;
  heads: number;
  mlp: number;
  act: Activation;
  patchSize: number;
  temporalPatchSize: number;
  mergeSize: number;
  /** The decoder's hidden size (the merger's output). */
  outHidden: number;
  ropeTheta: number;
}

export interface Qwen2VlConfig {
  vision: Qwen2VlVisionConfig;
  text: TextConfig;
  /** Frequencies of each head's rotary half given to the temporal, height and width positions. */
  mropeSection: [number, number, number];
  imageTokenId: number;
  /** The resized image the graph takes, [H, W]. */
  imageSize: [number, number];
  /** Patches: [t, h, w] (the processor's image_grid_thw). */
  gridThw: [number, number, number];
  imageTokenCount: number;
}

/** Qwen2VLTextConfig's defaults (Qwen2-VL-72B). */
const QWEN2_VL_TEXT: TextFamily = {
  architecture: QWEN2_VL_ARCHITECTURE, modelTypes: ['qwen2_vl_text', 'qwen2_vl'], qkvBias: 'always',
  defaults: { vocab: 152064, hidden: 8192, mlp: 29568, layers: 80, heads: 64, kvHeads: 8, maxSeq: 32768, theta: 1000000 },
};

/** The image the graph is built for when the import does not name one: transformers' processing of a 448x448 image. */
const QWEN2_VL_DEFAULT_IMAGE = 448;

function visionConfig(v: ConfigFields, outHidden: number): Qwen2VlVisionConfig {
  const modelType = v.has('model_type') ? v.obj.model_type : 'qwen2_vl';
  if (modelType !== 'qwen2_vl' && modelType !== 'qwen2_vl_vision') {
    throw new ImportError('ARCHITECTURE', `${v.file}: vision_config.model_type ${JSON.stringify(modelType)} is not supported for ${QWEN2_VL_ARCHITECTURE}`, v.file);
  }
  // Qwen2VLVisionConfig defaults; transformers 4 configs call in_channels in_chans.
  const embed = v.int('embed_dim', 1280);
  const heads = v.int('num_heads', 16);
  const rope = v.record('rope_parameters');
  const c: Qwen2VlVisionConfig = {
    depth: v.int('depth', 32), embed, heads, mlp: Math.trunc(embed * v.num('mlp_ratio', 4)), act: v.oneOf('hidden_act', ACTIVATIONS, 'quick_gelu'),
    patchSize: v.int('patch_size', 14), temporalPatchSize: v.int('temporal_patch_size', 2), mergeSize: v.int('spatial_merge_size', 2),
    outHidden, ropeTheta: rope?.has('rope_theta') ? rope.num('rope_theta') : 10000,
  };
  const channels = v.has('in_channels') ? v.int('in_channels') : v.int('in_chans', 3);
  if (channels !== 3) throw new ImportError('CONFIG', `${v.file}: vision_config.in_channels must be 3 (RGB images)`, v.file);
  if (embed % heads !== 0 || (embed / heads) % 4 !== 0) throw new ImportError('CONFIG', `${v.file}: vision_config.embed_dim ${embed} / num_heads ${heads} must be a multiple of 4 (2-D rotary halves)`, v.file);
  if (v.has('hidden_size') && v.int('hidden_size') !== outHidden) throw new ImportError('CONFIG', `${v.file}: vision_config.hidden_size ${String(v.obj.hidden_size)} differs from the decoder's hidden_size ${outHidden}`, v.file);
  return c;
}

function mropeSectionOf(t: ConfigFields, headDim: number): [number, number, number] {
  const params = t.record('rope_parameters') ?? t.record('rope_scaling');
  const s = params?.obj.mrope_section;
  if (!Array.isArray(s) || s.length !== 3 || !s.every((x) => Number.isInteger(x) && x >= 0) || s.reduce((a: number, b: number) => a + b, 0) !== headDim / 2) {
    throw new ImportError('CONFIG', `${t.file}: ${t.where ? `${t.where}.` : ''}rope_parameters.mrope_section must be 3 counts summing to head_dim / 2 = ${headDim / 2}, got ${JSON.stringify(s)}`, t.file);
  }
  return s as [number, number, number];
}

/** `imageSize` (the resized image the graph takes): given, or the processor's smart_resize of a 448x448 image. */
export function parseQwen2VlConfig(config: unknown, file: string, processor: ImageProcessorConfig, imageSize?: [number, number], maxPositions?: number): Qwen2VlConfig {
  if (!isRecord(config)) throw new ImportError('CONFIG', `${file}: expected a JSON object`, file);
  const top = new ConfigFields(config, file, '');
  // transformers 4 configs keep the decoder's fields at the top level.
  const t = top.record('text_config') ?? top;
  const text = decoderTextConfig(t, QWEN2_VL_TEXT, top.has('tie_word_embeddings') ? top.bool('tie_word_embeddings', false) : undefined, maxPositions);
  const vision = visionConfig(top.record('vision_config') ?? new ConfigFields({}, file, 'vision_config'), text.hidden);
  const factor = vision.patchSize * vision.mergeSize;
  const size = imageSize ?? (processor.kind === 'qwen2-vl'
    ? smartResize(QWEN2_VL_DEFAULT_IMAGE, QWEN2_VL_DEFAULT_IMAGE, factor, processor.minPixels, processor.maxPixels)
    : [QWEN2_VL_DEFAULT_IMAGE, QWEN2_VL_DEFAULT_IMAGE]);
  if (size[0] % factor !== 0 || size[1] % factor !== 0) {
    throw new ImportError('OPTION', `--image-size ${size[0]}x${size[1]} must be multiples of ${factor} (patch_size ${vision.patchSize} x spatial_merge_size ${vision.mergeSize})`);
  }
  const gridThw: [number, number, number] = [1, size[0] / vision.patchSize, size[1] / vision.patchSize];
  const imageTokenId = top.has('image_token_id') ? top.int('image_token_id', undefined, 0) : top.int('image_token_index', 151655, 0);
  return {
    vision, text, mropeSection: mropeSectionOf(t, text.headDim), imageTokenId, imageSize: [size[0], size[1]], gridThw,
    imageTokenCount: (gridThw[1] * gridThw[2]) / vision.mergeSize ** 2,
  };
}

export interface Qwen2VlLayout {
  visual: string;
  text: string;
  lmHead: string;
}

/**
 * Published checkpoints (transformers 4 before 4.52) hold `model.*` (the decoder), `visual.*`,
 * `lm_head.*`; transformers >= 4.52 holds `model.language_model.*`, `model.visual.*`, `lm_head.*`
 * and maps the old names onto them; 5.17's save_pretrained writes the old names.
 */
const CANDIDATES: { [K in keyof Qwen2VlLayout]: PartCandidates } = {
  visual: { probe: 'patch_embed.proj.weight', prefixes: ['visual.', 'model.visual.'] },
  text: { probe: 'embed_tokens.weight', prefixes: ['model.', 'model.language_model.'] },
  lmHead: { probe: 'weight', prefixes: ['lm_head.'] },
};

export function qwen2VlLayout(ckpt: SafetensorsCheckpoint, tied: boolean): Qwen2VlLayout {
  const find = (part: keyof Qwen2VlLayout): string => findPrefix(ckpt, 'Qwen2-VL', CANDIDATES[part], part === 'lmHead' && tied);
  return { visual: find('visual'), text: find('text'), lmHead: find('lmHead') };
}

export function qwen2VlWeights(c: Qwen2VlConfig, l: Qwen2VlLayout): WeightSpec[] {
  const w = new WeightPlan();
  const v = c.vision;
  const E = v.embed;
  const P = v.patchSize;
  w.add({
    name: 'vision/patch_embed/weight', shape: [P * P * 3, E], source: `${l.visual}patch_embed.proj.weight`,
    sourceShape: [E, 3, v.temporalPatchSize, P, P], transform: { kind: 'conv3d_still' },
  });
  for (let i = 0; i < v.depth; i++) {
    const p = `vision/blocks.${i}`;
    const s = `${l.visual}blocks.${i}`;
    w.norm(`${p}/norm1`, `${s}.norm1`, E, true);
    // The fused qkv projection as three linears (its outputs are q, k, v in that order).
    ['q_proj', 'k_proj', 'v_proj'].forEach((name, j) => w.linearPart(`${p}/attn/${name}`, `${s}.attn.qkv`, E, 3 * E, j * E, (j + 1) * E, true));
    w.linear(`${p}/attn/proj`, `${s}.attn.proj`, E, E, true);
    w.norm(`${p}/norm2`, `${s}.norm2`, E, true);
    w.linear(`${p}/mlp/fc1`, `${s}.mlp.fc1`, E, v.mlp, true);
    w.linear(`${p}/mlp/fc2`, `${s}.mlp.fc2`, v.mlp, E, true);
  }
  const merged = E * v.mergeSize ** 2;
  w.norm('vision/merger/ln_q', `${l.visual}merger.ln_q`, E, true);
  w.linear('vision/merger/mlp.0', `${l.visual}merger.mlp.0`, merged, merged, true);
  w.linear('vision/merger/mlp.2', `${l.visual}merger.mlp.2`, merged, v.outHidden, true);
  decoderWeights(w, c.text, l.text, l.lmHead);
  return w.specs;
}

export function qwen2VlUnusedTensor(name: string): boolean {
  return name.endsWith('.rotary_emb.inv_freq') || name.endsWith('rotary_pos_emb.inv_freq');
}

export function qwen2VlImageInput(c: Qwen2VlConfig): ImageInputLayout {
  return { kind: 'qwen2-vl', gridThw: c.gridThw };
}

/** The processor must cut the patches the tower embeds, and resize the graph's image to itself. */
export function qwen2VlProcessorProblem(c: Qwen2VlConfig, p: ImageProcessorConfig): string | undefined {
  const v = c.vision;
  if (p.kind !== 'qwen2-vl') return `a ${p.kind} image processor does not make Qwen2-VL's patches`;
  if (p.patchSize !== v.patchSize || p.temporalPatchSize !== v.temporalPatchSize || p.mergeSize !== v.mergeSize) {
    return `the processor's patches (patch ${p.patchSize}, temporal ${p.temporalPatchSize}, merge ${p.mergeSize}) differ from the vision tower's (${v.patchSize}, ${v.temporalPatchSize}, ${v.mergeSize})`;
  }
  const [h, w] = c.imageSize;
  const again = smartResize(h, w, v.patchSize * v.mergeSize, p.minPixels, p.maxPixels);
  if (again[0] !== h || again[1] !== w) return `the graph's image size ${h}x${w} is not one the processor makes (smart_resize gives ${again[0]}x${again[1]}; pixels must lie in [${p.minPixels}, ${p.maxPixels}])`;
  return undefined;
}

/** Multimodal RoPE tables by sequence index (get_rope_index for one image at `offset`) and the causal mask. */
function qwen2VlPositionTables(c: Qwen2VlConfig, offset: number): PositionTables {
  const t = c.text;
  const d = t.headDim;
  const S = t.maxSeq;
  const gh = c.gridThw[1] / c.vision.mergeSize;
  const gw = c.gridThw[2] / c.vision.mergeSize;
  const count = c.imageTokenCount;
  // Text after the image continues from the image's largest position + 1.
  const after = offset + Math.max(c.gridThw[0] - 1, gh - 1, gw - 1) + 1;
  const positionsOf = (i: number): [number, number, number] => {
    if (i < offset) return [i, i, i];
    if (i < offset + count) {
      const k = i - offset;
      return [offset, offset + Math.floor(k / gw), offset + (k % gw)];
    }
    const p = after + (i - offset - count);
    return [p, p, p];
  };
  const invFreq = inverseFrequencies(d, t.rope.theta, 'float32');
  // Frequency j of a head's rotary half belongs to section 0 (t), 1 (h) or 2 (w).
  const section: number[] = [];
  c.mropeSection.forEach((n, s) => { for (let k = 0; k < n; k++) section.push(s); });
  const cos = new Float32Array(S * d);
  const sin = new Float32Array(S * d);
  for (let i = 0; i < S; i++) {
    const pos = positionsOf(i);
    for (let j = 0; j < d / 2; j++) {
      const angle = Math.fround(pos[section[j]!]! * invFreq[j]!);
      cos[i * d + j] = cos[i * d + j + d / 2] = Math.cos(angle);
      sin[i * d + j] = sin[i * d + j + d / 2] = Math.sin(angle);
    }
  }
  return { cos, sin, mask: causalMask(S), maxSeq: S, headDim: d };
}

/** The vision tower's 2-D rotary cos/sin [patches, headDim] in merge-window order: per head, angles of the row then of the column, twice. */
function visionRope(c: Qwen2VlConfig): { cos: Float32Array; sin: Float32Array; rows: number } {
  const v = c.vision;
  const hd = v.embed / v.heads;
  const [, gh, gw] = c.gridThw;
  const M = v.mergeSize;
  const invFreq = inverseFrequencies(hd / 2, v.ropeTheta, 'float32');
  const q = hd / 4;
  const cos = new Float32Array(gh * gw * hd);
  const sin = new Float32Array(gh * gw * hd);
  for (const [row, yx] of mergeWindowOrder(gh, gw, M).entries()) {
    for (let half = 0; half < 2; half++) {
      for (let j = 0; j < q; j++) {
        const angle = Math.fround(yx[half] * invFreq[j]!);
        for (const base of [0, hd / 2]) {
          cos[row * hd + base + half * q + j] = Math.cos(angle);
          sin[row * hd + base + half * q + j] = Math.sin(angle);
        }
      }
    }
  }
  return { cos, sin, rows: gh * gw };
}

/** pixels [B, H, W, 3] (the resized, normalized image) -> merged features [B, imageTokens, hidden]. */
function imageFeatures<T>(o: Ops<T>, c: Qwen2VlConfig, pixels: T): T {
  const v = c.vision;
  const [, gh, gw] = c.gridThw;
  const M = v.mergeSize;
  const P = v.patchSize;
  const E = v.embed;
  const D = P * P * 3;
  // Patches in raster order, then in the processor's merge-window order.
  let x = patchify(o, 'vision/patch_embed/patchify', pixels, gh, gw, P, 3);
  x = o.reshape('vision/patch_embed/windows/Reshape', x, [-1, gh / M, M, gw / M, M * D]);
  x = o.transpose('vision/patch_embed/windows/Transpose', x, [0, 1, 3, 2, 4]);
  x = o.reshape('vision/patch_embed/windows/Reshape_1', x, [-1, gh * gw, D]);
  x = o.matMul('vision/patch_embed/MatMul', x, o.param('vision/patch_embed/weight'));
  const tables = visionRope(c);
  const hd = E / v.heads;
  const rope: RopeCosSin<T> = {
    cos: o.constant('vision/rotary/cos', tables.cos, [tables.rows, hd]),
    sin: o.constant('vision/rotary/sin', tables.sin, [tables.rows, hd]),
  };
  for (let i = 0; i < v.depth; i++) {
    const p = `vision/blocks.${i}`;
    x = o.add(`${p}/residual_attn`, x, encoderAttention(o, `${p}/attn`, layerNorm(o, `${p}/norm1`, x, 1e-6), v.heads, hd, 'proj', rope));
    const h = layerNorm(o, `${p}/norm2`, x, 1e-6);
    x = o.add(`${p}/residual_mlp`, x, linear(o, `${p}/mlp/fc2`, activation(o, v.act, `${p}/mlp/act`, linear(o, `${p}/mlp/fc1`, h, true)), true));
  }
  // PatchMerger: each merge window's M² consecutive patches as one row.
  x = o.reshape('vision/merger/windows', layerNorm(o, 'vision/merger/ln_q', x, 1e-6), [-1, c.imageTokenCount, E * M * M]);
  x = activation(o, 'gelu', 'vision/merger/act', linear(o, 'vision/merger/mlp.0', x, true));
  return linear(o, 'vision/merger/mlp.2', x, true);
}

/** pixels [B, H, W, 3], ids [B, S] with the image tokens at [offset, offset + count) -> logits [B, S, vocab]. */
export function qwen2VlForward<T>(o: Ops<T>, c: Qwen2VlConfig, pixels: T, ids: T, imageTokenOffset: number): T {
  const features = imageFeatures(o, c, pixels);
  return decoderForward(o, c.text, ids, features, imageTokenOffset, c.imageTokenCount, positionInputs(o, qwen2VlPositionTables(c, imageTokenOffset), ids));
}
