/**
 * The image-token rule of a checkpoint, read from its files the way transformers' processor gets
 * its attributes: processor_config.json (transformers 5 nests the image processor in it as
 * `image_processor`; transformers 4 keeps it in preprocessor_config.json), falling back to
 * config.json where transformers' processor would take the model's value.
 */
import type { FeatureSelectStrategy, ImageTokenRule } from './image_tokens.js';

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface ProcessorFiles {
  /** Parsed config.json (required: its model_type names the processor). */
  config: unknown;
  /** Parsed processor_config.json, if the checkpoint has one. */
  processorConfig?: unknown;
  /** Parsed preprocessor_config.json, if the checkpoint has one. */
  preprocessorConfig?: unknown;
}

export const SUPPORTED_MODEL_TYPES = ['llava', 'llava_onevision', 'qwen2_vl'] as const;

/** The image processor's settings: processor_config.json's `image_processor`, else preprocessor_config.json. */
export function imageProcessorConfig(files: ProcessorFiles): Json {
  const nested = isRecord(files.processorConfig) ? files.processorConfig.image_processor : undefined;
  if (isRecord(nested)) return nested;
  if (isRecord(files.preprocessorConfig)) return files.preprocessorConfig;
  return {};
}

function positiveInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function strategy(v: unknown, what: string): FeatureSelectStrategy {
  if (v === 'default' || v === 'full') return v;
  throw new Error(`${what} must be "default" or "full", got ${JSON.stringify(v)}`);
}

function pinpoints(v: unknown, what: string): Array<[number, number]> {
  if (!Array.isArray(v) || v.length === 0) throw new Error(`${what} must be a non-empty list of [height, width]`);
  return v.map((p) => {
    if (!Array.isArray(p) || p.length !== 2) throw new Error(`${what} must be a list of [height, width], got ${JSON.stringify(p)}`);
    return [positiveInt(p[0], what), positiveInt(p[1], what)];
  });
}

export function imageTokenRuleFromHf(files: ProcessorFiles): ImageTokenRule {
  if (!isRecord(files.config)) throw new Error('config.json: expected a JSON object');
  const cfg = files.config;
  const proc = isRecord(files.processorConfig) ? files.processorConfig : {};
  const ip = imageProcessorConfig(files);
  const vision = isRecord(cfg.vision_config) ? cfg.vision_config : {};
  const pick = (key: string): { value: unknown; file: string } =>
    proc[key] !== undefined && proc[key] !== null ? { value: proc[key], file: 'processor_config.json' } : { value: cfg[key], file: 'config.json' };
  switch (cfg.model_type) {
    case 'llava': {
      const patch = proc.patch_size ?? vision.patch_size;
      const s = pick('vision_feature_select_strategy');
      return {
        processor: 'llava',
        imageToken: typeof proc.image_token === 'string' ? proc.image_token : '<image>',
        patchSize: positiveInt(patch, 'processor_config.json patch_size (or config.json vision_config.patch_size)'),
        // transformers' LlavaProcessor default is 0; published LLaVA-1.5 processors state 1 (the CLS feature).
        numAdditionalImageTokens: proc.num_additional_image_tokens === undefined ? 0 : Number(proc.num_additional_image_tokens),
        visionFeatureSelectStrategy: strategy(s.value ?? 'default', `${s.file} vision_feature_select_strategy`),
      };
    }
    case 'llava_onevision': {
      // num_image_tokens is a processor attribute; checkpoints without it get the vision tower's grid.
      const perTile = proc.num_image_tokens ?? (typeof vision.image_size === 'number' && typeof vision.patch_size === 'number'
        ? Math.floor(vision.image_size / vision.patch_size) ** 2 : undefined);
      const s = pick('vision_feature_select_strategy');
      const ar = pick('vision_aspect_ratio');
      return {
        processor: 'llava-onevision',
        imageToken: typeof proc.image_token === 'string' ? proc.image_token : '<image>',
        numImageTokens: positiveInt(perTile, 'processor_config.json num_image_tokens (or config.json vision_config image_size / patch_size)'),
        visionFeatureSelectStrategy: strategy(s.value ?? 'full', `${s.file} vision_feature_select_strategy`),
        imageGridPinpoints: pinpoints(ip.image_grid_pinpoints ?? cfg.image_grid_pinpoints, 'image_grid_pinpoints'),
        visionAspectRatio: typeof ar.value === 'string' ? ar.value : 'anyres_max_9',
      };
    }
    case 'qwen2_vl':
      return {
        processor: 'qwen2-vl',
        imageToken: typeof proc.image_token === 'string' ? proc.image_token : '<|image_pad|>',
        mergeSize: positiveInt(ip.merge_size ?? vision.spatial_merge_size ?? 2, 'image processor merge_size'),
      };
    default:
      throw new Error(`config.json: model_type ${JSON.stringify(cfg.model_type)} has no supported processor (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  }
}
