/**
 * How many image tokens each supported processor puts in place of the image placeholder, as
 * transformers 5 computes them (one function per processor, from its `replace_image_token`):
 * - LlavaProcessor: (H / patch) * (W / patch) + num_additional_image_tokens, minus 1 (the CLS
 *   feature) under vision_feature_select_strategy "default".
 * - LlavaOnevisionProcessor, single image: base features (num_image_tokens) + the anyres tile
 *   features after unpadding + one image_newline per tile-feature row (+ the same "default" rule).
 * - Qwen2VLProcessor: grid_t * grid_h * grid_w / merge_size^2 `<|image_pad|>` tokens (the chat
 *   template writes the vision_start / vision_end around them).
 */

export type FeatureSelectStrategy = 'default' | 'full';

export interface LlavaImageTokens {
  processor: 'llava';
  imageToken: string;
  patchSize: number;
  numAdditionalImageTokens: number;
  visionFeatureSelectStrategy: FeatureSelectStrategy;
}

export interface LlavaOnevisionImageTokens {
  processor: 'llava-onevision';
  imageToken: string;
  /** Features of one tile (and of the base image): (tile size / patch)^2. */
  numImageTokens: number;
  visionFeatureSelectStrategy: FeatureSelectStrategy;
  /** image_grid_pinpoints as [height, width] pairs. */
  imageGridPinpoints: Array<[number, number]>;
  /** e.g. "anyres_max_9": at most 9 tiles' worth of features. */
  visionAspectRatio: string;
}

export interface Qwen2VlImageTokens {
  processor: 'qwen2-vl';
  imageToken: string;
  mergeSize: number;
}

export type ImageTokenRule = LlavaImageTokens | LlavaOnevisionImageTokens | Qwen2VlImageTokens;

/** What the image processor made of one image, as far as the token count depends on it. */
export interface ProcessedImageShape {
  /** Height and width of pixel_values (LLaVA: the crop; OneVision: one tile). */
  height: number;
  width: number;
  /** The image's size before processing (OneVision's image_sizes). */
  originalHeight?: number;
  originalWidth?: number;
  /** Qwen2-VL's image_grid_thw. */
  gridThw?: readonly [number, number, number];
}

/** transformers' select_best_resolution: the pinpoint keeping most of the image, then wasting least. */
export function selectBestResolution(originalHeight: number, originalWidth: number, pinpoints: Array<[number, number]>): [number, number] {
  let best: [number, number] | undefined;
  let maxEffective = 0;
  let minWasted = Infinity;
  for (const [height, width] of pinpoints) {
    const scale = Math.min(width / originalWidth, height / originalHeight);
    const downW = Math.trunc(originalWidth * scale);
    const downH = Math.trunc(originalHeight * scale);
    const effective = Math.min(downW * downH, originalWidth * originalHeight);
    const wasted = width * height - effective;
    if (effective > maxEffective || (effective === maxEffective && wasted < minWasted)) {
      maxEffective = effective;
      minWasted = wasted;
      best = [height, width];
    }
  }
  if (!best) throw new Error('image_grid_pinpoints is empty');
  return best;
}

/** Python's round(x, 7) then int(): the unpadding arithmetic of LLaVA-NeXT/OneVision. */
function intRound7(x: number): number {
  return Math.trunc(Math.round(x * 1e7) / 1e7);
}

function onevisionFeatures(rule: LlavaOnevisionImageTokens, image: ProcessedImageShape): number {
  const { originalHeight: oh, originalWidth: ow } = image;
  if (oh === undefined || ow === undefined) throw new Error('llava-onevision: the image token count needs the original image size');
  const [bestH, bestW] = selectBestResolution(oh, ow, rule.imageGridPinpoints);
  const scaleH = Math.floor(bestH / image.height);
  const scaleW = Math.floor(bestW / image.width);
  const patches = Math.trunc(Math.sqrt(rule.numImageTokens));
  let curH = patches * scaleH;
  let curW = patches * scaleW;
  if (ow / oh > curW / curH) {
    const newH = intRound7(oh * (curW / ow));
    curH -= Math.floor((curH - newH) / 2) * 2;
  } else {
    const newW = intRound7(ow * (curH / oh));
    curW -= Math.floor((curW - newW) / 2) * 2;
  }
  let unpadded = curH * curW;
  let newline = curH;
  const m = /^anyres_max_(\d+)$/.exec(rule.visionAspectRatio);
  if (!m) throw new Error(`llava-onevision: vision_aspect_ratio ${JSON.stringify(rule.visionAspectRatio)} is not supported (anyres_max_N is)`);
  const ratio = Math.sqrt((curH * curW) / (Number(m[1]) * patches ** 2));
  if (ratio > 1.1) {
    unpadded = Math.floor(curH / ratio) * Math.floor(curW / ratio);
    newline = Math.floor(curH / ratio);
  }
  return unpadded + newline + rule.numImageTokens;
}

/** Number of image tokens the processor puts in place of one image placeholder. */
export function imageTokenCount(rule: ImageTokenRule, image: ProcessedImageShape): number {
  switch (rule.processor) {
    case 'llava': {
      const n = Math.floor(image.height / rule.patchSize) * Math.floor(image.width / rule.patchSize) + rule.numAdditionalImageTokens;
      return rule.visionFeatureSelectStrategy === 'default' ? n - 1 : n;
    }
    case 'llava-onevision': {
      const n = onevisionFeatures(rule, image);
      return rule.visionFeatureSelectStrategy === 'default' ? n - 1 : n;
    }
    case 'qwen2-vl': {
      const g = image.gridThw;
      if (!g) throw new Error('qwen2-vl: the image token count needs image_grid_thw');
      const merged = g[0] * g[1] * g[2];
      return Math.floor(merged / rule.mergeSize ** 2);
    }
  }
}

/** `text` with the i-th image placeholder repeated imageTokenCount(images[i]) times. */
export function expandImageTokens(text: string, rule: ImageTokenRule, images: readonly ProcessedImageShape[]): string {
  const parts = text.split(rule.imageToken);
  if (parts.length - 1 !== images.length) {
    throw new Error(`the prompt has ${parts.length - 1} ${rule.imageToken} placeholder(s) for ${images.length} image(s)`);
  }
  let out = parts[0]!;
  for (let i = 0; i < images.length; i++) out += rule.imageToken.repeat(imageTokenCount(rule, images[i]!)) + parts[i + 1]!;
  return out;
}
