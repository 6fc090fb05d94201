/** `mbq.json`: where the image tokens sit in the sequence and which ids are special. */

export interface MbqConfig {
  /** Number of `<image>` tokens the graph replaces with vision features. */
  imageTokenCount: number;
  /** Position of the first `<image>` token (after BOS). */
  imageTokenOffset: number;
  imageTokenId: number;
  bosTokenId: number;
  eosTokenId: number;
  /** Input image size `[H, W]` of `pixel_values`. */
  imageSize: [number, number];
  /** `word-level` (the project's own tokenizer.json; the default) or `hf` (Hugging Face tokenizer + chat template). */
  tokenizer: 'word-level' | 'hf';
}

function int(obj: Record<string, unknown>, key: string, file: string, min = 0): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`${file}: '${key}' must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function tokenizerKind(v: unknown, file: string): MbqConfig['tokenizer'] {
  if (v === undefined || v === 'word-level') return 'word-level';
  if (v === 'hf') return 'hf';
  throw new Error(`${file}: 'tokenizer' must be "word-level" or "hf", got ${JSON.stringify(v)}`);
}

export function parseMbqConfig(json: unknown, file = 'mbq.json'): MbqConfig {
  if (typeof json !== 'object' || json === null) throw new Error(`${file}: expected a JSON object`);
  const o = json as Record<string, unknown>;
  const size = o.imageSize;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${file}: 'imageSize' must be [H, W] with positive integers, got ${JSON.stringify(size)}`);
  }
  const config: MbqConfig = {
    imageTokenCount: int(o, 'imageTokenCount', file, 1),
    imageTokenOffset: int(o, 'imageTokenOffset', file),
    imageTokenId: int(o, 'imageTokenId', file),
    bosTokenId: int(o, 'bosTokenId', file),
    eosTokenId: int(o, 'eosTokenId', file),
    imageSize: [size[0] as number, size[1] as number],
    tokenizer: tokenizerKind(o.tokenizer, file),
  };
  // Hugging Face prompts put the image where the chat template does; the word-level layout is fixed.
  if (config.tokenizer === 'word-level' && config.imageTokenOffset !== 1) {
    throw new Error(`${file}: 'imageTokenOffset' is ${config.imageTokenOffset}; the prompt layout [BOS, <image>..., question] needs 1`);
  }
  return config;
}
