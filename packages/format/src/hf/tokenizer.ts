/**
 * The `hf` tokenizer kind: a Hugging Face `tokenizer.json` (byte-level BPE as Qwen2 has, BPE with
 * byte fallback as Llama has, ...) with its `tokenizer_config.json` (named special tokens,
 * add_bos_token / add_eos_token, model_max_length), encoded by `@huggingface/tokenizers`.
 *
 * transformers 5's fast tokenizer (TokenizersBackend) rebuilds the post-processor as
 * `[bos] $A [eos]` when tokenizer_config.json states add_bos_token or add_eos_token, or when
 * tokenizer.json has none; otherwise tokenizer.json's own post-processor adds the special tokens.
 * This class does the same, so `encode(text, { addSpecialTokens: true })` equals the processor's ids.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import {
  checkInputLength, resolveMaxInputChars,
  type EncodeOptions, type TextTokenizer, type TokenizerOptions,
} from '../tokenizer/front.js';
import { checkTokenizerLimits } from './tokenizer_limits.js';

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A special token in tokenizer_config.json: a string or an AddedToken object `{ content }`. */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isRecord(v) && typeof v.content === 'string') return v.content;
  return undefined;
}

/** The named special tokens a chat template sees (`bos_token`, `eos_token`, ...). */
export interface SpecialTokens {
  bos_token?: string;
  eos_token?: string;
  unk_token?: string;
  pad_token?: string;
}

const NAMED = ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const;

export class HfTokenizer implements TextTokenizer {
  readonly kind = 'hf' as const;
  readonly vocabSize: number;
  readonly specialIds: ReadonlySet<number>;
  readonly specialTokens: SpecialTokens;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  /** tokenizer_config.json's model_max_length, when it states a usable one. */
  readonly modelMaxLength: number | undefined;
  /** tokenizer_config.json's `chat_template`, when it has one (see chat_template.ts for the others). */
  readonly configChatTemplate: unknown;
  private readonly inner: Tokenizer;
  private readonly maxInputChars: number;

  /**
   * `tokenizerJson` / `tokenizerConfig`: the parsed files; `file` names tokenizer.json in errors
   * (tokenizer_config.json is named beside it).
   */
  constructor(tokenizerJson: unknown, tokenizerConfig: unknown, readonly file = 'tokenizer.json', options: TokenizerOptions = {}) {
    const configFile = file.replace(/tokenizer\.json$/, 'tokenizer_config.json');
    if (!isRecord(tokenizerJson) || !isRecord(tokenizerJson.model)) throw new Error(`${file}: not a Hugging Face tokenizer.json (no 'model' section)`);
    if (!isRecord(tokenizerConfig)) throw new Error(`${configFile}: expected a JSON object`);
    const cfg = tokenizerConfig;
    const named: SpecialTokens = {};
    for (const k of NAMED) {
      const c = tokenContent(cfg[k]);
      if (c !== undefined) named[k] = c;
    }
    this.specialTokens = named;
    const json: Json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...tokenizerJson };
    if (!Array.isArray(json.added_tokens)) throw new Error(`${file}: added_tokens must be a list`);
    // Regex patterns, token lengths and nesting bounded before the library builds anything (tokenizer_limits.ts).
    checkTokenizerLimits(json, file);
    const flagsStated = 'add_bos_token' in cfg || 'add_eos_token' in cfg;
    if (flagsStated || json.post_processor === null) json.post_processor = this.templateProcessor(cfg, json, named, configFile);
    try {
      // transformers 5 does not clean up tokenization spaces unless the config says so (the library's default is the opposite).
      this.inner = new Tokenizer(json, { ...cfg, unk_token: named.unk_token, clean_up_tokenization_spaces: cfg.clean_up_tokenization_spaces === true });
    } catch (e) {
      throw new Error(`${file}: cannot build the tokenizer: ${(e as Error).message}`);
    }
    const special = new Set<number>();
    for (const [id, t] of this.inner.get_added_tokens_decoder()) if (t.special) special.add(id);
    this.specialIds = special;
    let maxId = -1;
    for (const id of this.inner.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    this.bosTokenId = named.bos_token !== undefined ? this.inner.token_to_id(named.bos_token) : undefined;
    this.eosTokenId = named.eos_token !== undefined ? this.inner.token_to_id(named.eos_token) : undefined;
    this.padTokenId = named.pad_token !== undefined ? this.inner.token_to_id(named.pad_token) : undefined;
    const mml = cfg.model_max_length;
    // transformers writes a huge sentinel (1e30) when the length is unknown.
    this.modelMaxLength = typeof mml === 'number' && Number.isInteger(mml) && mml > 0 && mml < 2 ** 31 ? mml : undefined;
    this.configChatTemplate = cfg.chat_template;
    this.maxInputChars = resolveMaxInputChars(options, file);
  }

  /** `[bos] $A [eos]` as transformers' TokenizersBackend.update_post_processor builds it. */
  private templateProcessor(cfg: Json, json: Json, named: SpecialTokens, configFile: string): Json {
    const flag = (k: string): boolean => {
      const v = cfg[k];
      if (v === undefined || v === null) return false;
      if (typeof v !== 'boolean') throw new Error(`${configFile}: ${k} must be true or false, got ${JSON.stringify(v)}`);
      return v;
    };
    const idOf = (token: string): number | undefined => {
      const added = (json.added_tokens as unknown[]).find((a) => isRecord(a) && a.content === token) as Json | undefined;
      if (added && typeof added.id === 'number') return added.id;
      const vocab = (json.model as Json).vocab;
      return isRecord(vocab) && typeof vocab[token] === 'number' ? (vocab[token] as number) : undefined;
    };
    const single: Json[] = [];
    const specials: Json = {};
    const addSpecial = (token: string | undefined): void => {
      if (token === undefined) return; // transformers drops the flag when the token is not set
      const id = idOf(token);
      if (id === undefined) throw new Error(`${configFile}: special token ${JSON.stringify(token)} is not in the vocabulary`);
      single.push({ SpecialToken: { id: token, type_id: 0 } });
      specials[token] = { id: token, ids: [id], tokens: [token] };
    };
    if (flag('add_bos_token')) addSpecial(named.bos_token);
    single.push({ Sequence: { id: 'A', type_id: 0 } });
    if (flag('add_eos_token')) addSpecial(named.eos_token);
    return { type: 'TemplateProcessing', single, pair: [...single, { Sequence: { id: 'B', type_id: 1 } }], special_tokens: specials };
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    checkInputLength(text, options.maxInputChars ?? this.maxInputChars, options.where ?? 'text');
    return this.inner.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
  }

  /** transformers' `decode(ids, skip_special_tokens=True)`. */
  decode(ids: readonly number[]): string {
    const kept = ids.filter((id) => !this.specialIds.has(id));
    return kept.length === 0 ? '' : this.inner.decode([...kept], { skip_special_tokens: true });
  }

  tokenId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }
}
