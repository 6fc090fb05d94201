/** `mbq.json` as the runtime uses it: the format's schema plus the prompt kind, its layout rule, the image processor and the graph's pixel layout. */
import {
  parseImageInputLayout, parseMbqJson, parseStoredImageProcessor, tinyVlmImageProcessor,
  type ImageInputLayout, type ImageProcessorConfig, type MbqJson,
} from '@tfjs-mbq/format';

export interface MbqConfig extends MbqJson {
  /** `word-level` (the project's own tokenizer.json; the default) or `hf` (Hugging Face tokenizer + chat template). */
  tokenizer: 'word-level' | 'hf';
  /** How an image becomes what the processor returns: mbq.json `imageProcessor`; absent for the project's own models (resize to imageSize, 1/255). */
  imageProcessor: ImageProcessorConfig;
  /** How pixel_values is laid out (imported Hugging Face models; absent: the image itself). */
  imageInput: ImageInputLayout;
}

function tokenizerKind(v: unknown, file: string): MbqConfig['tokenizer'] {
  if (v === undefined || v === 'word-level') return 'word-level';
  if (v === 'hf') return 'hf';
  throw new Error(`${file}: "tokenizer" must be "word-level" or "hf", got ${JSON.stringify(v)}`);
}

function imageProcessor(m: MbqJson & Record<string, unknown>, tokenizer: MbqConfig['tokenizer'], file: string): ImageProcessorConfig {
  if (m.imageProcessor !== undefined) return parseStoredImageProcessor(m.imageProcessor, `${file}: "imageProcessor"`, file);
  if (tokenizer === 'hf') throw new Error(`${file}: a Hugging Face model needs "imageProcessor" (how its images are preprocessed); import the checkpoint again`);
  return tinyVlmImageProcessor(m.imageSize);
}

export function parseMbqConfig(json: unknown, file = 'mbq.json'): MbqConfig {
  const m = parseMbqJson(json, file);
  const tokenizer = tokenizerKind(m.tokenizer, file);
  const config: MbqConfig = {
    imageTokenCount: m.imageTokenCount, imageTokenOffset: m.imageTokenOffset, imageTokenId: m.imageTokenId,
    bosTokenId: m.bosTokenId, eosTokenId: m.eosTokenId, imageSize: m.imageSize,
    ...(m.padTokenId !== undefined ? { padTokenId: m.padTokenId } : {}),
    ...(m.maxPositions !== undefined ? { maxPositions: m.maxPositions } : {}),
    tokenizer,
    imageProcessor: imageProcessor(m, tokenizer, file),
    imageInput: parseImageInputLayout(m.imageInput, m.imageSize, file),
  };
  // Hugging Face prompts put the image where the chat template does; the word-level layout is fixed.
  if (config.tokenizer === 'word-level' && config.imageTokenOffset !== 1) {
    throw new Error(`${file}: "imageTokenOffset" is ${config.imageTokenOffset}; the prompt layout [BOS, <image>..., question] needs 1`);
  }
  return config;
}
