/**
 * A word-level tokenizer read from a Hugging Face `tokenizer.json` (model type `WordLevel`).
 * Supports the normalizers and pre-tokenizers small word-level vocabularies use:
 * normalizers Lowercase / Strip / Sequence, pre-tokenizers Whitespace (`\w+|[^\w\s]+`),
 * WhitespaceSplit, Punctuation (isolated), Split (regex/string, isolated or removed) and Sequence.
 * Added tokens (`<image>`, `<bos>`, ...) are matched verbatim before normalization.
 */

interface AddedTokenJson { id: number; content: string; special?: boolean }
interface NormalizerJson { type: string; normalizers?: NormalizerJson[]; left?: boolean; right?: boolean }
interface PreTokenizerJson {
  type: string;
  pretokenizers?: PreTokenizerJson[];
  pattern?: { Regex?: string; String?: string };
  behavior?: string;
  invert?: boolean;
}
export interface TokenizerJson {
  added_tokens?: AddedTokenJson[];
  normalizer?: NormalizerJson | null;
  pre_tokenizer?: PreTokenizerJson | null;
  model: { type: string; vocab: Record<string, number>; unk_token?: string };
}

type Normalize = (s: string) => string;
type PreTokenize = (words: string[]) => string[];

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function buildNormalizer(n: NormalizerJson | null | undefined, file: string): Normalize {
  if (!n) return (s) => s;
  switch (n.type) {
    case 'Lowercase': return (s) => s.toLowerCase();
    case 'Strip': return (s) => {
      let r = s;
      if (n.left !== false) r = r.replace(/^\s+/u, '');
      if (n.right !== false) r = r.replace(/\s+$/u, '');
      return r;
    };
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': return (s) => s.normalize(n.type as 'NFC');
    case 'Sequence': {
      const parts = (n.normalizers ?? []).map((m) => buildNormalizer(m, file));
      return (s) => parts.reduce((acc, f) => f(acc), s);
    }
    default: throw new Error(`${file}: normalizer type '${n.type}' is not supported (Lowercase, Strip, NF*, Sequence are)`);
  }
}

/** Splits each word by a global regex, keeping matches (Isolated) or dropping them (Removed); invert keeps only the matches. */
function splitBy(re: RegExp, behavior: string, invert: boolean, file: string): PreTokenize {
  if (behavior !== 'Isolated' && behavior !== 'Removed') throw new Error(`${file}: Split behavior '${behavior}' is not supported (Isolated, Removed are)`);
  return (words) => words.flatMap((w) => {
    if (invert) return Array.from(w.matchAll(re), (m) => m[0]).filter((t) => t.length > 0);
    const out: string[] = [];
    let last = 0;
    for (const m of w.matchAll(re)) {
      const start = m.index ?? 0;
      if (start > last) out.push(w.slice(last, start));
      if (behavior === 'Isolated') out.push(m[0]);
      last = start + m[0].length;
    }
    if (last < w.length) out.push(w.slice(last));
    return out.filter((t) => t.length > 0);
  });
}

function buildPreTokenizer(p: PreTokenizerJson | null | undefined, file: string): PreTokenize {
  if (!p) return (words) => words;
  switch (p.type) {
    case 'Whitespace': return (words) => words.flatMap((w) => w.match(/\w+|[^\w\s]+/gu) ?? []);
    case 'WhitespaceSplit': return (words) => words.flatMap((w) => w.split(/\s+/u).filter((t) => t.length > 0));
    case 'Punctuation': return splitBy(/\p{P}/gu, p.behavior ?? 'Isolated', false, file);
    case 'Split': {
      const source = p.pattern?.Regex ?? (p.pattern?.String !== undefined ? escapeRegex(p.pattern.String) : undefined);
      if (source === undefined) throw new Error(`${file}: Split pre-tokenizer without a pattern`);
      return splitBy(new RegExp(source, 'gu'), p.behavior ?? 'Isolated', p.invert ?? false, file);
    }
    case 'Sequence': {
      const parts = (p.pretokenizers ?? []).map((q) => buildPreTokenizer(q, file));
      return (words) => parts.reduce((acc, f) => f(acc), words);
    }
    default: throw new Error(`${file}: pre-tokenizer type '${p.type}' is not supported (Whitespace, WhitespaceSplit, Punctuation, Split, Sequence are)`);
  }
}

export class WordLevelTokenizer {
  private readonly idToToken: string[] = [];
  private readonly special = new Set<number>();
  private readonly addedPattern: RegExp | null;
  private readonly addedIds = new Map<string, number>();
  private readonly normalize: Normalize;
  private readonly preTokenize: PreTokenize;
  readonly unkId: number | undefined;

  constructor(json: TokenizerJson, file = 'tokenizer.json') {
    if (!json || typeof json !== 'object' || !json.model) throw new Error(`${file}: no 'model' section`);
    if (json.model.type !== 'WordLevel') throw new Error(`${file}: model type '${json.model.type}' is not supported (only WordLevel)`);
    this.vocab = new Map(Object.entries(json.model.vocab));
    for (const [token, id] of this.vocab) this.idToToken[id] = token;
    for (const t of json.added_tokens ?? []) {
      this.idToToken[t.id] = t.content;
      this.addedIds.set(t.content, t.id);
      if (t.special !== false) this.special.add(t.id);
    }
    const added = [...this.addedIds.keys()].sort((a, b) => b.length - a.length).map(escapeRegex);
    this.addedPattern = added.length ? new RegExp(`(${added.join('|')})`, 'u') : null;
    this.unkId = json.model.unk_token !== undefined ? this.vocab.get(json.model.unk_token) : undefined;
    this.normalize = buildNormalizer(json.normalizer, file);
    this.preTokenize = buildPreTokenizer(json.pre_tokenizer, file);
  }

  private readonly vocab: Map<string, number>;

  get vocabSize(): number {
    return this.idToToken.length;
  }

  /** Token strings of `text` (no special tokens are added). */
  tokenize(text: string): string[] {
    const pieces = this.addedPattern ? text.split(this.addedPattern) : [text];
    const out: string[] = [];
    for (const piece of pieces) {
      if (!piece) continue;
      if (this.addedIds.has(piece)) { out.push(piece); continue; }
      out.push(...this.preTokenize([this.normalize(piece)]));
    }
    return out;
  }

  /** Ids of `text`; words outside the vocabulary map to the unknown token, or throw without one. */
  encode(text: string): number[] {
    return this.tokenize(text).map((t) => {
      const id = this.addedIds.get(t) ?? this.vocab.get(t) ?? this.unkId;
      if (id === undefined) throw new Error(`tokenizer: '${t}' is not in the vocabulary and there is no unk_token`);
      return id;
    });
  }

  /** Words of `ids` joined by single spaces, special tokens left out. */
  decode(ids: readonly number[]): string {
    return ids.filter((id) => !this.special.has(id)).map((id) => this.idToToken[id] ?? '').filter((t) => t).join(' ');
  }

  idOf(token: string): number | undefined {
    return this.addedIds.get(token) ?? this.vocab.get(token);
  }
}
