/**
 * The `word-level` kind: the project's own tokenizer.json (a Hugging Face WordLevel model, e.g.
 * Lowercase normalizer + Whitespace pre-tokenizer). Normalizer, pre-tokenizer and added-token
 * splitting are `@huggingface/tokenizers`'; what this kind adds is the unknown-word policy and
 * decoding to words joined by single spaces.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import {
  checkInputLength, resolveMaxInputChars, UnknownWordError,
  type EncodeOptions, type TextTokenizer, type TokenizerOptions, type UnknownWordPolicy,
} from './front.js';

interface AddedTokenJson { id: number; content: string; special?: boolean }
interface WordLevelJson {
  added_tokens?: AddedTokenJson[];
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  model?: { type?: string; vocab?: Record<string, unknown>; unk_token?: string };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class WordLevelTokenizer implements TextTokenizer {
  readonly kind = 'word-level' as const;
  readonly vocabSize: number;
  readonly specialIds: ReadonlySet<number>;
  /** Id of the unk_token, if the vocabulary has one. */
  readonly unkId: number | undefined;
  private readonly inner: Tokenizer;
  private readonly idToToken: string[] = [];
  private readonly policy: UnknownWordPolicy;
  private readonly lowercase: boolean;
  private readonly maxInputChars: number;

  /** `json`: the parsed tokenizer.json; `file` names it in errors. */
  constructor(json: unknown, readonly file = 'tokenizer.json', options: TokenizerOptions = {}) {
    const t = json as WordLevelJson;
    if (!isRecord(t) || !isRecord(t.model)) throw new Error(`${file}: no 'model' section`);
    if (t.model.type !== 'WordLevel') {
      throw new Error(`${file}: model type ${JSON.stringify(t.model.type)} is not a word-level tokenizer (expected WordLevel)`);
    }
    if (!isRecord(t.model.vocab)) throw new Error(`${file}: the WordLevel model has no vocab`);
    for (const [w, id] of Object.entries(t.model.vocab)) {
      if (!Number.isInteger(id) || (id as number) < 0) throw new Error(`${file}: vocab entry "${w}" has id ${JSON.stringify(id)}, expected a non-negative integer`);
      this.idToToken[id as number] = w;
    }
    const added: AddedTokenJson[] = Array.isArray(t.added_tokens) ? t.added_tokens : [];
    const special = new Set<number>();
    for (const a of added) {
      const entry: unknown = a;
      if (!isRecord(entry) || !Number.isInteger(entry.id) || (entry.id as number) < 0 || typeof entry.content !== 'string') throw new Error(`${file}: malformed added_tokens entry ${JSON.stringify(a)}`);
      this.idToToken[a.id] = a.content;
      if (a.special !== false) special.add(a.id);
    }
    this.specialIds = special;
    this.vocabSize = this.idToToken.length;
    const unk = typeof t.model.unk_token === 'string' ? t.model.unk_token : undefined;
    this.unkId = unk !== undefined ? this.tokenIdIn(t.model.vocab, added, unk) : undefined;
    const full = {
      normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...t,
      added_tokens: added.map((a) => ({ single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...a })),
    };
    try {
      // The library's WordLevel model takes its unk_token from the config argument.
      this.inner = new Tokenizer(full, { unk_token: unk });
    } catch (e) {
      throw new Error(`${file}: cannot build the tokenizer: ${(e as Error).message}`);
    }
    this.policy = options.unknownWords ?? 'unk';
    this.lowercase = options.lowercase ?? false;
    this.maxInputChars = resolveMaxInputChars(options, file);
  }

  private tokenIdIn(vocab: Record<string, unknown>, added: AddedTokenJson[], token: string): number | undefined {
    const a = added.find((x) => x.content === token);
    if (a) return a.id;
    const v = vocab[token];
    return typeof v === 'number' ? v : undefined;
  }

  /** Token strings of `text` (no special tokens added). */
  tokenize(text: string, where = 'text', maxInputChars = this.maxInputChars): string[] {
    checkInputLength(text, maxInputChars, where);
    return this.inner.tokenize(this.lowercase ? text.toLowerCase() : text);
  }

  /** Word-level vocabularies have no BOS/EOS post-processor: `addSpecialTokens` adds nothing. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const where = options.where ?? 'text';
    return this.tokenize(text, where, options.maxInputChars).map((tok) => {
      const id = this.inner.token_to_id(tok);
      if (id !== undefined) return id;
      if (this.policy === 'error') throw new UnknownWordError(tok, where, this.file);
      if (this.unkId === undefined) throw new Error(`${where}: word "${tok}" is not in the vocabulary and ${this.file} has no unk_token`);
      return this.unkId;
    });
  }

  /** Words of `ids` joined by single spaces, special tokens and unknown ids left out. */
  decode(ids: readonly number[]): string {
    return ids.filter((id) => !this.specialIds.has(id)).map((id) => this.idToToken[id] ?? '').filter((w) => w !== '').join(' ');
  }

  tokenId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }
}
