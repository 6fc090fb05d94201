/**
 * One description of image preprocessing for every model the toolkit runs: transformers' image
 * processors (read from `preprocessor_config.json`, or from the `image_processor` entry of
 * `processor_config.json` as transformers 5 saves it) and the fixture tiny-vlm alike.
 * Plain JSON, so mbq.json can carry it.
 */
import { FormatError } from '../errors.js';
import { PIL_RESAMPLE_BY_NUMBER, type PilResample } from './pil_resample.js';

export type Rgb3 = [number, number, number];

interface ImageProcessorCommon {
  /** RGBA is alpha-composited over white (transformers' `convert_to_rgb`); otherwise alpha is dropped. */
  compositeOnWhite: boolean;
  resample: PilResample;
  /** Multiplies the 8-bit values (1/255); null: no rescale. */
  rescaleFactor: number | null;
  /** Per-channel (x - mean) / std after rescaling; null: no normalization. */
  normalize: { mean: Rgb3; std: Rgb3 } | null;
}

/** CLIP, SigLIP and the fixture tiny-vlm: resize, optional center crop. Output [1, 3, H, W]. */
export interface SingleImageProcessorConfig extends ImageProcessorCommon {
  kind: 'single';
  resize: { shortestEdge: number } | { height: number; width: number } | null;
  centerCrop: { height: number; width: number } | null;
}

/**
 * LLaVA-OneVision anyres: the whole image resized to `size`, followed by the tiles of
 * the image fitted (aspect kept, zero padded) into the best of `gridPinpoints`. Output [1, 1 + tiles, 3, H, W].
 */
export interface AnyresImageProcessorConfig extends ImageProcessorCommon {
  kind: 'anyres';
  size: { height: number; width: number };
  gridPinpoints: [number, number][];
}

/** Qwen2-VL: smart_resize between min and max pixels, then flattened patches. Output [patches, 3*T*P*P]. */
export interface Qwen2VlImageProcessorConfig extends ImageProcessorCommon {
  kind: 'qwen2-vl';
  minPixels: number;
  maxPixels: number;
  patchSize: number;
  temporalPatchSize: number;
  mergeSize: number;
}

export type ImageProcessorConfig = SingleImageProcessorConfig | AnyresImageProcessorConfig | Qwen2VlImageProcessorConfig;

const CLIP_MEAN: Rgb3 = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: Rgb3 = [0.26862954, 0.26130258, 0.27577711];
const HALF: Rgb3 = [0.5, 0.5, 0.5];

/** The fixture tiny-vlm's preprocessing: resize to its imageSize, rescale to [0, 1], no normalization. */
export function tinyVlmImageProcessor(imageSize: [number, number]): SingleImageProcessorConfig {
  return {
    kind: 'single', compositeOnWhite: false, resample: 'bilinear', rescaleFactor: 1 / 255, normalize: null,
    resize: { height: imageSize[0], width: imageSize[1] }, centerCrop: null,
  };
}

type Json = Record<string, unknown>;

class Reader {
  constructor(readonly json: Json, readonly file: string) {}
  fail(message: string): never { throw new FormatError('IMAGE_PROCESSOR', `${this.file}: ${message}`, this.file); }
  has(key: string): boolean { return this.json[key] !== undefined && this.json[key] !== null; }
  bool(key: string, fallback: boolean): boolean {
    const v = this.json[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(`"${key}" must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  positive(key: string, fallback?: number): number {
    const v = this.json[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) this.fail(`"${key}" must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  }
  int(key: string, fallback?: number): number {
    const v = this.positive(key, fallback);
    if (!Number.isInteger(v)) this.fail(`"${key}" must be a positive integer, got ${v}`);
    return v;
  }
  rgb(key: string, fallback: Rgb3): Rgb3 {
    const v = this.json[key] ?? fallback;
    const list = typeof v === 'number' ? [v, v, v] : v;
    if (!Array.isArray(list) || list.length !== 3 || !list.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      this.fail(`"${key}" must be a number or 3 numbers, got ${JSON.stringify(v)}`);
    }
    return list as Rgb3;
  }
  resample(fallback: number): PilResample {
    const v = this.json.resample ?? fallback;
    const name = typeof v === 'number' ? PIL_RESAMPLE_BY_NUMBER[v] : undefined;
    if (!name) this.fail(`"resample" must be a PIL resampling number 0-5, got ${JSON.stringify(v)}`);
    return name;
  }
  sizeDict(key: string): Json | null {
    const v = this.json[key];
    if (v === undefined || v === null) return null;
    if (typeof v === 'number') return { height: v, width: v };
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(`"${key}" must be an object, got ${JSON.stringify(v)}`);
    return v as Json;
  }
  heightWidth(key: string, fallback?: number): { height: number; width: number } {
    const d = this.sizeDict(key) ?? (fallback !== undefined ? { height: fallback, width: fallback } : null);
    const h = d?.height, w = d?.width;
    if (!(Number.isInteger(h) && Number.isInteger(w) && (h as number) > 0 && (w as number) > 0)) {
      this.fail(`"${key}" must have positive integer "height" and "width", got ${JSON.stringify(this.json[key])}`);
    }
    return { height: h as number, width: w as number };
  }
  common(mean: Rgb3, std: Rgb3): ImageProcessorCommon {
    return {
      compositeOnWhite: this.bool('do_convert_rgb', true),
      resample: this.resample(3),
      rescaleFactor: this.bool('do_rescale', true) ? this.positive('rescale_factor', 1 / 255) : null,
      normalize: this.bool('do_normalize', true) ? { mean: this.rgb('image_mean', mean), std: this.rgb('image_std', std) } : null,
    };
  }
  crop(fallback: boolean): { height: number; width: number } | null {
    return this.bool('do_center_crop', fallback) ? this.heightWidth('crop_size', 224) : null;
  }
}

function clip(r: Reader): SingleImageProcessorConfig {
  let resize: SingleImageProcessorConfig['resize'] = null;
  if (r.bool('do_resize', true)) {
    const size = r.sizeDict('size') ?? { shortest_edge: 224 };
    if (size.shortest_edge !== undefined) {
      const s = size.shortest_edge;
      if (!(Number.isInteger(s) && (s as number) > 0)) r.fail(`"size.shortest_edge" must be a positive integer, got ${JSON.stringify(s)}`);
      resize = { shortestEdge: s as number };
    } else {
      resize = r.heightWidth('size');
    }
  }
  return { kind: 'single', ...r.common(CLIP_MEAN, CLIP_STD), resize, centerCrop: r.crop(true) };
}

function siglip(r: Reader): SingleImageProcessorConfig {
  const resize = r.bool('do_resize', true) ? r.heightWidth('size', 224) : null;
  return { kind: 'single', ...r.common(HALF, HALF), resize, centerCrop: null };
}

function anyres(r: Reader, cls: string): AnyresImageProcessorConfig {
  if (!r.bool('do_resize', true)) r.fail(`${cls} with "do_resize": false is not supported`);
  const pins = r.json.image_grid_pinpoints;
  if (!Array.isArray(pins) || pins.length === 0 || !pins.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => Number.isInteger(x) && x > 0))) {
    r.fail(`"image_grid_pinpoints" must be a list of [height, width] pairs, got ${JSON.stringify(pins)}`);
  }
  if (r.bool('do_center_crop', false)) r.fail(`${cls} with "do_center_crop": true is not supported`);
  return { kind: 'anyres', ...r.common(CLIP_MEAN, CLIP_STD), size: r.heightWidth('size', 384), gridPinpoints: pins as [number, number][] };
}

function qwen2vl(r: Reader): Qwen2VlImageProcessorConfig {
  if (!r.bool('do_resize', true)) r.fail('Qwen2VLImageProcessor with "do_resize": false is not supported');
  const size = r.sizeDict('size') ?? {};
  // transformers lets top-level min_pixels / max_pixels override size, as older configs store them.
  const minPixels = r.json.min_pixels ?? size.shortest_edge ?? size.min_pixels ?? 56 * 56;
  const maxPixels = r.json.max_pixels ?? size.longest_edge ?? size.max_pixels ?? 28 * 28 * 1280;
  if (!(Number.isInteger(minPixels) && Number.isInteger(maxPixels) && (minPixels as number) > 0 && (maxPixels as number) >= (minPixels as number))) {
    r.fail(`min/max pixels must be positive integers with max >= min, got ${JSON.stringify(minPixels)} and ${JSON.stringify(maxPixels)}`);
  }
  return {
    kind: 'qwen2-vl', ...r.common(CLIP_MEAN, CLIP_STD), minPixels: minPixels as number, maxPixels: maxPixels as number,
    patchSize: r.int('patch_size', 14), temporalPatchSize: r.int('temporal_patch_size', 2), mergeSize: r.int('merge_size', 2),
  };
}

const BY_CLASS: Readonly<Record<string, (r: Reader, cls: string) => ImageProcessorConfig>> = {
  CLIPImageProcessor: clip,
  SiglipImageProcessor: siglip,
  LlavaOnevisionImageProcessor: anyres,
  Qwen2VLImageProcessor: qwen2vl,
};

/** The image processor settings of one JSON object (`preprocessor_config.json` or `processor_config.json`'s `image_processor`). */
export function parseImageProcessorConfig(json: unknown, file: string): ImageProcessorConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FormatError('IMAGE_PROCESSOR', `${file}: image processor settings must be a JSON object`, file);
  const r = new Reader(json as Json, file);
  const type = r.json.image_processor_type;
  if (typeof type !== 'string') return r.fail('"image_processor_type" is missing');
  // Backends of one processor (Fast = torchvision, Pil) share its settings.
  const cls = type.replace(/(Fast|Pil)$/, '');
  const parse = BY_CLASS[cls];
  if (!parse) r.fail(`image processor "${type}" is not supported (supported: ${Object.keys(BY_CLASS).join(', ')})`);
  return parse(r, cls);
}

/**
 * Finds the image processor settings of a checkpoint: transformers 5 nests them under
 * `image_processor` in processor_config.json, transformers 4 wrote preprocessor_config.json.
 * Pass the parsed files that exist, with the names to report.
 */
export function findImageProcessorConfig(files: {
  processorConfig?: { json: unknown; file: string };
  preprocessorConfig?: { json: unknown; file: string };
}): ImageProcessorConfig {
  const nested = files.processorConfig?.json;
  if (typeof nested === 'object' && nested !== null && 'image_processor' in nested) {
    return parseImageProcessorConfig((nested as Json).image_processor, `${files.processorConfig!.file} (image_processor)`);
  }
  if (files.preprocessorConfig) return parseImageProcessorConfig(files.preprocessorConfig.json, files.preprocessorConfig.file);
  const where = files.processorConfig ? `${files.processorConfig.file} has no "image_processor" and ` : '';
  throw new FormatError('IMAGE_PROCESSOR', `${where}no preprocessor_config.json: the checkpoint has no image processor settings`, files.processorConfig?.file);
}
