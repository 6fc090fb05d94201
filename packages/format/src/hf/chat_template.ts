/**
 * Chat templates of a Hugging Face checkpoint, rendered with `@huggingface/jinja` (trim_blocks and
 * lstrip_blocks on, `raise_exception` built in, as transformers renders them), in bounded time and
 * memory (bounded_jinja.ts): a template that loops for ever or grows its output without end is
 * refused with one line naming its file.
 *
 * Where the template lives, in the order transformers' processor looks: `chat_template.jinja`
 * (transformers 5 saves), `chat_template.json` (`{ "chat_template": ... }`, transformers 4.4x
 * processors), then tokenizer_config.json's `chat_template` (a string, or a list of
 * `{ name, template }` from which `default` is taken).
 */
import { BoundedTemplate } from './bounded_jinja.js';
import type { SpecialTokens } from './tokenizer.js';

export type ChatContent = { type: 'image' } | { type: 'text'; text: string };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: ChatContent[] | string;
}

/** The files a template may come from, as read (any may be missing). */
export interface ChatTemplateSources {
  /** Text of `chat_template.jinja`. */
  jinja?: string;
  /** Parsed `chat_template.json`. */
  json?: unknown;
  /** Parsed `tokenizer_config.json`. */
  tokenizerConfig?: unknown;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fromConfigValue(v: unknown, file: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v.find((t) => isRecord(t) && t.name === 'default');
    if (isRecord(named) && typeof named.template === 'string') return named.template;
    throw new Error(`${file}: chat_template is a list without a 'default' template`);
  }
  throw new Error(`${file}: chat_template must be a string or a list of { name, template }`);
}

/** The template text and the file it came from; undefined when the checkpoint has none. */
export function resolveChatTemplate(src: ChatTemplateSources): { source: string; file: string } | undefined {
  if (src.jinja !== undefined) return { source: src.jinja, file: 'chat_template.jinja' };
  if (src.json !== undefined) {
    const t = fromConfigValue(isRecord(src.json) ? src.json.chat_template : undefined, 'chat_template.json');
    if (t === undefined) throw new Error('chat_template.json: no chat_template');
    return { source: t, file: 'chat_template.json' };
  }
  const t = isRecord(src.tokenizerConfig) ? fromConfigValue(src.tokenizerConfig.chat_template, 'tokenizer_config.json') : undefined;
  return t === undefined ? undefined : { source: t, file: 'tokenizer_config.json' };
}

export class ChatTemplate {
  private readonly template: BoundedTemplate;

  /** `file` names where the template came from in errors. */
  constructor(readonly source: string, readonly file: string) {
    try {
      this.template = new BoundedTemplate(source);
    } catch (e) {
      throw new Error(`${file}: cannot parse the chat template: ${(e as Error).message}`);
    }
  }

  /** The prompt text of `messages`, with the named special tokens as template variables. */
  render(messages: ChatMessage[], options: { addGenerationPrompt: boolean; specialTokens: SpecialTokens }): string {
    try {
      return this.template.render({ ...options.specialTokens, messages, add_generation_prompt: options.addGenerationPrompt });
    } catch (e) {
      throw new Error(`${this.file}: cannot render the chat template: ${(e as Error).message}`);
    }
  }
}

/** The conversation the processors' records use: one user turn, the image first, then the question. */
export function imageQuestion(question: string): ChatMessage[] {
  return [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] }];
}
