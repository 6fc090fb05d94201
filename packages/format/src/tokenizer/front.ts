/**
 * The one tokenizer front of a model directory. Two kinds sit behind it:
 * - `word-level`: the project's own `tokenizer.json` (a Hugging Face WordLevel model, as
 *   fixtures/tiny-vlm has), where a word can be outside the vocabulary;
 * - `hf`: a Hugging Face `tokenizer.json` + `tokenizer_config.json` (byte-level BPE, BPE with byte
 *   fallback, ...), encoded by `@huggingface/tokenizers` exactly as transformers' fast tokenizer does.
 */

/** What a word outside a word-level vocabulary becomes. */
export type UnknownWordPolicy =
  /** Throw an {@link UnknownWordError} naming the word (calibration: such a caption is a data error). */
  | 'error'
  /** The tokenizer's unk_token (an error if it has none). */
  | 'unk';

export interface TokenizerOptions {
  /** Default `unk`. Only a word-level vocabulary can miss a word; byte-level BPE never does. */
  unknownWords?: UnknownWordPolicy;
  /** Lower-case text before the tokenizer's own normalizer (default false). */
  lowercase?: boolean;
  /**
   * Longest text (UTF-16 code units) that `encode` accepts; longer text is refused before any
   * tokenizing work, so a huge input cannot exhaust memory or the stack. Default 65536.
   */
  maxInputChars?: number;
}

export const DEFAULT_MAX_INPUT_CHARS = 65536;

export type TokenizerKind = 'word-level' | 'hf';

export interface EncodeOptions {
  /** Add the tokenizer's own special tokens (its post-processor's BOS/EOS), default false. */
  addSpecialTokens?: boolean;
  /** Names the text's origin (a manifest line, an option) in errors. */
  where?: string;
  /** This call's character limit instead of the tokenizer's (for text whose parts were bounded already). */
  maxInputChars?: number;
}

export interface TextTokenizer {
  readonly kind: TokenizerKind;
  /** One past the largest token id (vocabulary and added tokens). */
  readonly vocabSize: number;
  /** Token ids of `text`. */
  encode(text: string, options?: EncodeOptions): number[];
  /** Text of `ids`, special tokens left out. */
  decode(ids: readonly number[]): string;
  /** Id of one token string (vocabulary or added token), if it has one. */
  tokenId(token: string): number | undefined;
  /** Ids of the special (added) tokens. */
  readonly specialIds: ReadonlySet<number>;
}

/** A word outside a word-level vocabulary, under the `error` policy. */
export class UnknownWordError extends Error {
  constructor(readonly word: string, readonly where: string, readonly file: string) {
    super(`${where}: word "${word}" is not in the tokenizer's vocabulary (${file})`);
    this.name = 'UnknownWordError';
  }
}

/** Text longer than the tokenizer's `maxInputChars`, refused before tokenizing. */
export class InputTooLongError extends Error {
  constructor(readonly length: number, readonly limit: number, where: string) {
    super(`${where}: the text has ${length} characters, more than the tokenizer accepts (${limit}, maxInputChars)`);
    this.name = 'InputTooLongError';
  }
}

/** Refuses `text` over `limit` characters (before tokenizing, see {@link TokenizerOptions.maxInputChars}). */
export function checkInputLength(text: string, limit: number, where: string): void {
  if (typeof text !== 'string') throw new TypeError(`${where}: expected text, got ${typeof text}`);
  if (text.length > limit) throw new InputTooLongError(text.length, limit, where);
}

export function resolveMaxInputChars(options: TokenizerOptions, file: string): number {
  const limit = options.maxInputChars ?? DEFAULT_MAX_INPUT_CHARS;
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`${file}: maxInputChars must be a positive integer, got ${limit}`);
  return limit;
}
