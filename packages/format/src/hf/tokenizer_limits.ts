/**
 * What a Hugging Face tokenizer.json may ask of the tokenizer library, checked before it is built,
 * so that encoding any text within the character limit takes bounded time and memory:
 * - Regex patterns (normalizers, pre-tokenizers, decoders) run on JavaScript's backtracking engine,
 *   where `(a+)+$` is exponential and even `\s*x` is quadratic (3.5 s on 65,536 spaces). Accepted
 *   are patterns without quantifiers (a match attempt costs at most the pattern's length) and the
 *   pre-tokenizer patterns of the families this project imports, whose cost on hostile text is
 *   measured by packages/format/bench/tokenizer_regex.ts (docs/benchmarks.md). Any other is refused.
 * - Added tokens and vocabulary pieces are matched by walking a trie from every position, so the
 *   longest token bounds the work per character: tokens longer than {@link MAX_TOKEN_CHARS} are refused.
 * - Nesting (Sequence of Sequence ...) deeper than {@link MAX_TOKENIZER_DEPTH} is refused.
 */

/** The pre-tokenizer Split patterns of the supported families, exactly as their tokenizer.json has them. */
export const KNOWN_PRETOKENIZER_PATTERNS: ReadonlyMap<string, string> = new Map([
  // Qwen2 / Qwen2-VL / LLaVA-OneVision (Qwen2 decoder).
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'Qwen2'],
  // Llama 3 (the cl100k layout: digits in runs of up to 3).
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'Llama 3'],
  // GPT-2 (ByteLevel's built-in pattern, when written out as a Split).
  ["'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", 'GPT-2'],
]);

/** Longest added token or vocabulary piece accepted (real ones are at most a few hundred characters). */
export const MAX_TOKEN_CHARS = 1024;
/** Deepest nesting of objects and lists in a tokenizer.json section (real ones: 4 or 5). */
export const MAX_TOKENIZER_DEPTH = 32;

/** True when `pattern` has no quantifier (`*`, `+`, `?`, `{n,m}`) outside character classes and escapes. */
export function isQuantifierFree(pattern: string): boolean {
  let inClass = false;
  let groupOpenedAt = -1; // index of the last unescaped '(' outside a class
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      // An escape; `\p{L}`, `\u{1F600}` and `\k<name>` carry their argument in braces or angles.
      const next = pattern[i + 1];
      const open = pattern[i + 2];
      i++;
      if ((next === 'p' || next === 'P' || next === 'u' || next === 'k') && (open === '{' || open === '<')) {
        const close = pattern.indexOf(open === '{' ? '}' : '>', i + 2);
        if (close > 0) i = close;
      }
      continue;
    }
    if (inClass) { if (c === ']') inClass = false; continue; }
    if (c === '[') { inClass = true; continue; }
    if (c === '(') { groupOpenedAt = i; continue; }
    // `(?:`, `(?=`, `(?!`, `(?<=`, `(?i:` open groups; every other ? is a quantifier.
    if (c === '?' && groupOpenedAt === i - 1) continue;
    if (c === '*' || c === '+' || c === '?' || c === '{') return false;
  }
  return true;
}

/** Why `pattern` is refused, or undefined when it is accepted. */
export function regexProblem(pattern: string): string | undefined {
  if (KNOWN_PRETOKENIZER_PATTERNS.has(pattern) || isQuantifierFree(pattern)) return undefined;
  return 'has quantifiers and is not one of the pre-tokenizer patterns whose cost is bounded (Qwen2, Llama 3, GPT-2): '
    + 'on JavaScript\'s backtracking regex engine its time on hostile text has no bound';
}

function shown(s: string): string {
  const j = JSON.stringify(s);
  return j.length > 80 ? `${j.slice(0, 77)}..."` : j;
}

/** Checks the sections of `json` (a parsed tokenizer.json) against the limits above; throws one line naming `file`. */
export function checkTokenizerLimits(json: Record<string, unknown>, file: string): void {
  // Iterative walk: a hostile file may nest far deeper than the stack allows.
  const stack: Array<{ v: unknown; path: string; depth: number }> = [];
  for (const section of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) stack.push({ v: json[section], path: section, depth: 0 });
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > MAX_TOKENIZER_DEPTH) throw new Error(`${file}: ${path} nests deeper than ${MAX_TOKENIZER_DEPTH} levels`);
    if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push({ v: x, path: `${path}[${i}]`, depth: depth + 1 }));
      continue;
    }
    const o = v as Record<string, unknown>;
    const pattern = o.pattern;
    if (typeof pattern === 'object' && pattern !== null && 'Regex' in pattern) {
      const re = (pattern as { Regex: unknown }).Regex;
      if (typeof re !== 'string') throw new Error(`${file}: ${path}.pattern.Regex is not a string`);
      const problem = regexProblem(re);
      if (problem) throw new Error(`${file}: ${path}.pattern.Regex ${shown(re)} ${problem}`);
    }
    for (const [k, x] of Object.entries(o)) stack.push({ v: x, path: `${path}.${k}`, depth: depth + 1 });
  }
  const added = json.added_tokens;
  if (Array.isArray(added)) {
    added.forEach((t, i) => {
      const content = (t as { content?: unknown } | null)?.content;
      if (typeof content === 'string' && content.length > MAX_TOKEN_CHARS) {
        throw new Error(`${file}: added_tokens[${i}] has ${content.length} characters, more than the limit of ${MAX_TOKEN_CHARS}`);
      }
    });
  }
  const model = json.model as { type?: unknown; vocab?: unknown } | undefined;
  // Unigram's pieces are matched through a trie (BPE's merges and WordPiece's word cap bound theirs).
  if (model?.type === 'Unigram' && Array.isArray(model.vocab)) {
    model.vocab.forEach((p, i) => {
      const piece = Array.isArray(p) ? p[0] : undefined;
      if (typeof piece === 'string' && piece.length > MAX_TOKEN_CHARS) {
        throw new Error(`${file}: model.vocab[${i}] has ${piece.length} characters, more than the limit of ${MAX_TOKEN_CHARS}`);
      }
    });
  }
}
