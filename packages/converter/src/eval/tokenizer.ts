/**
 * A Hugging Face WordLevel `tokenizer.json` (lower-casing, Whitespace pre-tokenizer), enough to
 * encode prompts and decode answers of word-level VLM fixtures.
 */
import { readFile } from 'node:fs/promises';

export class WordLevelTokenizer {
  private readonly vocab: Map<string, number>;
  private readonly words: string[];
  private readonly special: Set<number>;
  readonly unkId: number;

  constructor(vocab: Record<string, number>, unkToken: string, specialIds: number[]) {
    this.vocab = new Map(Object.entries(vocab));
    this.words = [];
    for (const [w, i] of this.vocab) this.words[i] = w;
    const unk = this.vocab.get(unkToken);
    if (unk === undefined) throw new Error(`tokenizer.json: unk_token '${unkToken}' is not in the vocabulary`);
    this.unkId = unk;
    this.special = new Set(specialIds);
  }

  static async load(file: string): Promise<WordLevelTokenizer> {
    let json: { model?: { type?: string; vocab?: Record<string, number>; unk_token?: string }; added_tokens?: Array<{ id: number; special?: boolean }> };
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: cannot read tokenizer: ${(e as Error).message}`);
    }
    if (json.model?.type !== 'WordLevel' || !json.model.vocab) throw new Error(`${file}: only WordLevel tokenizers are supported (got ${String(json.model?.type)})`);
    return new WordLevelTokenizer(json.model.vocab, json.model.unk_token ?? '<unk>', (json.added_tokens ?? []).filter((t) => t.special).map((t) => t.id));
  }

  get size(): number {
    return this.words.length;
  }

  encode(text: string): number[] {
    return (text.toLowerCase().match(/\w+|[^\w\s]+/g) ?? []).map((p) => this.vocab.get(p) ?? this.unkId);
  }

  /** Words joined by single spaces; special tokens dropped. */
  decode(ids: readonly number[]): string {
    return ids.filter((i) => !this.special.has(i)).map((i) => this.words[i] ?? '<unk>').join(' ');
  }
}

/** Normal form for exact-match comparison: lower case, tokens separated by single spaces. */
export function normalizeAnswer(text: string): string {
  return (text.toLowerCase().match(/\w+|[^\w\s]+/g) ?? []).join(' ');
}
