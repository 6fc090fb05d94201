/**
 * Prompt ids of a question about one image, one interface for every tokenizer kind: the runtime's
 * `answer()` and the converter's calibration/evaluation sequences are built through it, so they
 * agree token for token.
 */
import type { ProcessedImageShape } from '../hf/image_tokens.js';
import type { TextTokenizer } from './front.js';

export interface PromptIds {
  ids: number[];
  /** Position of the first image token; the image tokens are one contiguous run. */
  imageTokenOffset: number;
  imageTokenCount: number;
}

export interface PromptBuilder {
  readonly tokenizer: TextTokenizer;
  readonly eosTokenId: number;
  /** Ids of the prompt asking `question` about one image (`where` names the text in errors). */
  prompt(question: string, image: ProcessedImageShape | undefined, where?: string): PromptIds;
  /** Ids of an answer or caption that follows the prompt (no special tokens). */
  continuation(text: string, where?: string): number[];
}

/** Prompt too long for the model, refused before it reaches the graph. */
export class PromptTooLongError extends Error {
  constructor(readonly tokens: number, readonly limit: number, where: string) {
    super(`${where}: the prompt has ${tokens} tokens; the model takes at most ${limit} positions`);
    this.name = 'PromptTooLongError';
  }
}

export function checkPromptLength(p: PromptIds, limit: number | undefined, where: string): PromptIds {
  if (limit !== undefined && p.ids.length > limit) throw new PromptTooLongError(p.ids.length, limit, where);
  return p;
}

/** The layout of the project's own word-level models (mbq.json): `[BOS, <image> x N, question]`. */
export interface FixedImageLayout {
  bosTokenId: number;
  eosTokenId: number;
  imageTokenId: number;
  imageTokenCount: number;
}

export class FixedImagePrompt implements PromptBuilder {
  readonly eosTokenId: number;

  /** `maxPromptTokens`: the model's positions, if known (longer prompts are refused). */
  constructor(readonly tokenizer: TextTokenizer, readonly layout: FixedImageLayout, readonly maxPromptTokens?: number) {
    this.eosTokenId = layout.eosTokenId;
  }

  prompt(question: string, _image: ProcessedImageShape | undefined, where = 'question'): PromptIds {
    const l = this.layout;
    const ids = [l.bosTokenId, ...new Array<number>(l.imageTokenCount).fill(l.imageTokenId), ...this.tokenizer.encode(question, { where })];
    return checkPromptLength({ ids, imageTokenOffset: 1, imageTokenCount: l.imageTokenCount }, this.maxPromptTokens, where);
  }

  continuation(text: string, where = 'text'): number[] {
    return this.tokenizer.encode(text, { where });
  }
}
