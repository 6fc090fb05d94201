/**
 * Prompt ids of a Hugging Face VLM, as its processor builds them: the chat template renders one
 * user turn (image, then question) with the generation prompt, the processor repeats the image
 * placeholder per its rule (image_tokens.ts), and the tokenizer encodes the text with its special
 * tokens (transformers' `processor(images=..., text=apply_chat_template(...))`).
 */
import { checkPromptLength, type PromptBuilder, type PromptIds } from '../tokenizer/prompt.js';
import { checkInputLength, DEFAULT_MAX_INPUT_CHARS } from '../tokenizer/front.js';
import { ChatTemplate, imageQuestion, resolveChatTemplate } from './chat_template.js';
import { expandImageTokens, type ImageTokenRule, type ProcessedImageShape } from './image_tokens.js';
import { imageTokenRuleFromHf } from './processor_config.js';
import { HfTokenizer } from './tokenizer.js';

export interface HfPromptOptions {
  /** The model's positions (config.json max_position_embeddings); longer prompts are refused. */
  maxPromptTokens?: number;
  /** Longest question in characters, refused before templating or tokenizing (default 65536). */
  maxQuestionChars?: number;
}

export class HfPrompt implements PromptBuilder {
  readonly eosTokenId: number;
  readonly imageTokenId: number;
  private readonly maxQuestionChars: number;

  constructor(readonly tokenizer: HfTokenizer, readonly template: ChatTemplate, readonly rule: ImageTokenRule, readonly options: HfPromptOptions = {}) {
    const image = tokenizer.tokenId(rule.imageToken);
    if (image === undefined) throw new Error(`${tokenizer.file}: the image token ${JSON.stringify(rule.imageToken)} is not in the vocabulary`);
    this.imageTokenId = image;
    if (tokenizer.eosTokenId === undefined) throw new Error(`${tokenizer.file}: tokenizer_config.json names no eos_token in the vocabulary`);
    this.eosTokenId = tokenizer.eosTokenId;
    this.maxQuestionChars = options.maxQuestionChars ?? DEFAULT_MAX_INPUT_CHARS;
  }

  /** The templated prompt text, with one image placeholder (before the processor expands it). */
  text(question: string, where = 'question'): string {
    checkInputLength(question, this.maxQuestionChars, where);
    if (question.includes(this.rule.imageToken)) throw new Error(`${where}: the question contains the image token ${this.rule.imageToken}`);
    return this.template.render(imageQuestion(question), { addGenerationPrompt: true, specialTokens: this.tokenizer.specialTokens });
  }

  prompt(question: string, image: ProcessedImageShape | undefined, where = 'question'): PromptIds {
    if (!image) throw new Error(`${where}: a ${this.rule.processor} prompt needs the processed image's shape`);
    const expanded = expandImageTokens(this.text(question, where), this.rule, [image]);
    // The question was bounded above; the rest is the template and the image tokens.
    const ids = this.tokenizer.encode(expanded, { addSpecialTokens: true, where, maxInputChars: expanded.length });
    const first = ids.indexOf(this.imageTokenId);
    const count = ids.filter((id) => id === this.imageTokenId).length;
    if (first < 0 || ids.lastIndexOf(this.imageTokenId) !== first + count - 1) {
      throw new Error(`${where}: the image tokens of the prompt are not one contiguous run`);
    }
    return checkPromptLength({ ids, imageTokenOffset: first, imageTokenCount: count }, this.options.maxPromptTokens, where);
  }

  continuation(text: string, where = 'text'): number[] {
    return this.tokenizer.encode(text, { where });
  }
}

/** A checkpoint's text-side files, parsed (optional ones undefined when absent). */
export interface HfTextFiles {
  tokenizer: unknown;
  tokenizerConfig: unknown;
  config: unknown;
  chatTemplateJinja?: string;
  chatTemplateJson?: unknown;
  processorConfig?: unknown;
  preprocessorConfig?: unknown;
}

/** The prompt builder of a checkpoint; `location` prefixes file names in errors. */
export function hfPromptFromFiles(files: HfTextFiles, options: HfPromptOptions & { location?: string; maxInputChars?: number } = {}): HfPrompt {
  const at = (f: string): string => (options.location ? `${options.location}/${f}` : f);
  const tokenizer = new HfTokenizer(files.tokenizer, files.tokenizerConfig, at('tokenizer.json'), { maxInputChars: options.maxInputChars });
  const found = resolveChatTemplate({ jinja: files.chatTemplateJinja, json: files.chatTemplateJson, tokenizerConfig: files.tokenizerConfig });
  if (!found) throw new Error(`${at('tokenizer_config.json')}: the checkpoint has no chat template (chat_template.jinja, chat_template.json or tokenizer_config.json chat_template)`);
  const rule = imageTokenRuleFromHf({ config: files.config, processorConfig: files.processorConfig, preprocessorConfig: files.preprocessorConfig });
  return new HfPrompt(tokenizer, new ChatTemplate(found.source, at(found.file)), rule, options);
}
