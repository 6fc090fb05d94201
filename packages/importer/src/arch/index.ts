/**
 * The architectures the importer knows, keyed by config.json `architectures[0]`. Each module keeps
 * all of its architecture's knowledge; the writer and the converter need nothing per architecture.
 */
import type { ImageInputLayout, ImageProcessorConfig } from '@tfjs-mbq/format';
import { ImportError } from '../errors.js';
import type { Ops } from '../graph/ops.js';
import type { SafetensorsCheckpoint } from '../safetensors/index.js';
import { isRecord } from './config_fields.js';
import { LLAVA_ARCHITECTURE, llavaForward, llavaLayout, llavaUnusedTensor, llavaWeights, parseLlavaConfig } from './llava.js';
import {
  LLAVA_ONEVISION_ARCHITECTURE, llavaOnevisionForward, llavaOnevisionImageInput, llavaOnevisionLayout, llavaOnevisionProcessorProblem,
  llavaOnevisionUnusedTensor, llavaOnevisionWeights, parseLlavaOnevisionConfig,
} from './llava_onevision.js';
import {
  QWEN2_VL_ARCHITECTURE, parseQwen2VlConfig, qwen2VlForward, qwen2VlImageInput, qwen2VlLayout, qwen2VlProcessorProblem, qwen2VlUnusedTensor, qwen2VlWeights,
} from './qwen2_vl.js';
import { TooManyWeightsError, checkSourceShape, type WeightSpec } from './plan.js';

/** One checkpoint, planned: its weights and the graph that reads them. */
export interface ArchitecturePlan {
  architecture: string;
  weights: WeightSpec[];
  /** `pixel_values` is [B, H, W, 3] with these H, W. */
  imageSize: [number, number];
  /** How `pixel_values` is made from the image processor's output. */
  imageInput: ImageInputLayout;
  /** Why the checkpoint's image processor cannot feed this graph, or undefined when it can. */
  imageProcessorProblem(p: ImageProcessorConfig): string | undefined;
  imageTokenId: number;
  imageTokenCount: number;
  /** The longest sequence the graph's position tables cover. */
  maxSeq: number;
  vocab: number;
  bosTokenId?: number;
  eosTokenId?: number;
  padTokenId?: number;
  /** Builds the forward: pixels, ids -> logits, with the image tokens at [offset, offset + imageTokenCount). */
  forward<T>(o: Ops<T>, pixels: T, ids: T, imageTokenOffset: number): T;
}

/** What the plan may depend on besides config.json and the checkpoint. */
export interface PlanInputs {
  /** The checkpoint's image processor (fixes sizes the graph is built for). */
  processor: ImageProcessorConfig;
  /** Qwen2-VL: the resized image [H, W] the graph takes (see qwen2_vl.ts); refused by fixed-size towers. */
  imageSize?: [number, number];
  /** The most positions the graph's tables cover (text_config.ts DEFAULT_MAX_POSITIONS when absent). */
  maxPositions?: number;
}

interface Architecture {
  plan(config: Record<string, unknown>, configFile: string, ckpt: SafetensorsCheckpoint, inputs: PlanInputs): ArchitecturePlan;
  /** The graph's image size is an import option (Qwen2-VL), not fixed by the vision tower. */
  imageSizeOption?: boolean;
}

/** Towers with one input size take no image-size option. */
function noImageSize(inputs: PlanInputs, architecture: string): void {
  if (inputs.imageSize) throw new ImportError('OPTION', `--image-size applies to ${QWEN2_VL_ARCHITECTURE} only; ${architecture} has a fixed input size`);
}

const llava: Architecture = {
  plan(config, file, ckpt, inputs) {
    noImageSize(inputs, LLAVA_ARCHITECTURE);
    const c = parseLlavaConfig(config, file, inputs.maxPositions);
    const layout = llavaLayout(ckpt, c.text.tieWordEmbeddings);
    const weights = llavaWeights(c, layout);
    checkCheckpoint(ckpt, weights, (name) => llavaUnusedTensor(c, layout, name));
    return {
      architecture: LLAVA_ARCHITECTURE, weights, imageSize: [c.vision.imageSize, c.vision.imageSize], imageTokenId: c.imageTokenId,
      imageInput: { kind: 'image' },
      imageProcessorProblem: (p) => singleImageProblem(p, c.vision.imageSize),
      imageTokenCount: c.imageTokenCount, maxSeq: c.text.maxSeq, vocab: c.text.vocab,
      bosTokenId: c.text.bosTokenId, eosTokenId: c.text.eosTokenId, padTokenId: c.text.padTokenId,
      forward: (o, pixels, ids, offset) => llavaForward(o, c, pixels, ids, offset),
    };
  },
};

/** A `single` processor (CLIP, SigLIP) must make exactly the vision tower's square input. */
function singleImageProblem(p: ImageProcessorConfig, side: number): string | undefined {
  if (p.kind !== 'single') return `a ${p.kind} image processor does not feed a fixed-size vision tower`;
  const final = p.centerCrop ?? (p.resize && 'height' in p.resize ? p.resize : null);
  if (!final || final.height !== side || final.width !== side) {
    return `the processor makes ${final ? `${final.height}x${final.width}` : 'variable-size'} images but the vision tower takes ${side}x${side}`;
  }
  return undefined;
}

const llavaOnevision: Architecture = {
  plan(config, file, ckpt, inputs) {
    noImageSize(inputs, LLAVA_ONEVISION_ARCHITECTURE);
    const c = parseLlavaOnevisionConfig(config, file, inputs.maxPositions);
    const layout = llavaOnevisionLayout(ckpt, c.text.tieWordEmbeddings);
    const weights = llavaOnevisionWeights(c, layout);
    checkCheckpoint(ckpt, weights, (name) => llavaOnevisionUnusedTensor(c, layout, name));
    const input = llavaOnevisionImageInput(c);
    const S = c.vision.imageSize;
    return {
      architecture: LLAVA_ONEVISION_ARCHITECTURE, weights, imageSize: [input.kind === 'views' ? input.views * S : S, S], imageTokenId: c.imageTokenId,
      imageInput: input,
      imageProcessorProblem: (p) => llavaOnevisionProcessorProblem(c, p),
      imageTokenCount: c.imageTokenCount, maxSeq: c.text.maxSeq, vocab: c.text.vocab,
      bosTokenId: c.text.bosTokenId, eosTokenId: c.text.eosTokenId, padTokenId: c.text.padTokenId,
      forward: (o, pixels, ids, offset) => llavaOnevisionForward(o, c, pixels, ids, offset),
    };
  },
};

const qwen2Vl: Architecture = {
  imageSizeOption: true,
  plan(config, file, ckpt, inputs) {
    const c = parseQwen2VlConfig(config, file, inputs.processor, inputs.imageSize, inputs.maxPositions);
    const layout = qwen2VlLayout(ckpt, c.text.tieWordEmbeddings);
    const weights = qwen2VlWeights(c, layout);
    checkCheckpoint(ckpt, weights, qwen2VlUnusedTensor);
    return {
      architecture: QWEN2_VL_ARCHITECTURE, weights, imageSize: c.imageSize, imageTokenId: c.imageTokenId,
      imageInput: qwen2VlImageInput(c),
      imageProcessorProblem: (p) => qwen2VlProcessorProblem(c, p),
      imageTokenCount: c.imageTokenCount, maxSeq: c.text.maxSeq, vocab: c.text.vocab,
      bosTokenId: c.text.bosTokenId, eosTokenId: c.text.eosTokenId, padTokenId: c.text.padTokenId,
      forward: (o, pixels, ids, offset) => qwen2VlForward(o, c, pixels, ids, offset),
    };
  },
};

const ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  [LLAVA_ARCHITECTURE]: llava, [LLAVA_ONEVISION_ARCHITECTURE]: llavaOnevision, [QWEN2_VL_ARCHITECTURE]: qwen2Vl,
};
export const SUPPORTED_ARCHITECTURES: readonly string[] = Object.keys(ARCHITECTURES);

/**
 * The plan inputs that rebuild the graph of an imported model directory from its checkpoint
 * (a float baseline of the same shape): from its mbq.json's architecture, image size and positions.
 */
export function reimportInputs(mbq: { source?: { architecture?: unknown }; imageSize?: [number, number]; maxPositions?: number }): Pick<PlanInputs, 'imageSize' | 'maxPositions'> {
  const arch = typeof mbq.source?.architecture === 'string' ? ARCHITECTURES[mbq.source.architecture] : undefined;
  return {
    ...(arch?.imageSizeOption && mbq.imageSize ? { imageSize: mbq.imageSize } : {}),
    ...(mbq.maxPositions !== undefined ? { maxPositions: mbq.maxPositions } : {}),
  };
}

/** Every source tensor present with the shape the config implies; no tensor the architecture does not know. */
function checkCheckpoint(ckpt: SafetensorsCheckpoint, weights: readonly WeightSpec[], unused: (name: string) => boolean): void {
  const read = new Set<string>();
  for (const w of weights) {
    if (!ckpt.has(w.source)) throw new ImportError('TENSOR_NAME', `${ckpt.source}: tensor '${w.source}' is missing (needed for ${w.name})`, ckpt.source);
    checkSourceShape(ckpt, w);
    read.add(w.source);
  }
  const unexpected = ckpt.names().filter((n) => !read.has(n) && !unused(n)).sort();
  if (unexpected.length > 0) {
    const more = unexpected.length > 1 ? ` and ${unexpected.length - 1} more` : '';
    throw new ImportError('TENSOR_NAME', `${ckpt.entry(unexpected[0]!).file}: unexpected tensor '${unexpected[0]}'${more} (not part of the architecture as configured in config.json)`, ckpt.source);
  }
}

/** The architecture named in config.json, planned against the checkpoint; anything else is refused. */
export function planArchitecture(config: unknown, configFile: string, ckpt: SafetensorsCheckpoint, inputs: PlanInputs): ArchitecturePlan {
  if (!isRecord(config)) throw new ImportError('CONFIG', `${configFile}: expected a JSON object`, configFile);
  const archs = config.architectures;
  if (!Array.isArray(archs) || archs.length !== 1 || typeof archs[0] !== 'string') {
    throw new ImportError('ARCHITECTURE', `${configFile}: "architectures" must name one architecture, got ${JSON.stringify(archs)} (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`, configFile);
  }
  const arch = ARCHITECTURES[archs[0]];
  if (!arch) throw new ImportError('ARCHITECTURE', `${configFile}: architecture ${archs[0]} is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`, configFile);
  try {
    return arch.plan(config, configFile, ckpt, inputs);
  } catch (e) {
    if (e instanceof TooManyWeightsError) throw new ImportError('CONFIG', `${configFile}: ${e.message}`, configFile);
    throw e;
  }
}
