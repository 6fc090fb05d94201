/**
 * Issue 15 §4, the tokenizer and the chat template as code from a hostile checkpoint: patterns that
 * backtrack catastrophically, huge added tokens, deep nesting, and templates that loop for ever or
 * grow their output without end are each refused with one line naming the file, before the work
 * (at load) or within a bounded budget (at render). No case here waits on a slow path: a refusal
 * that did not happen would hang the test (the suite's timeout fails it).
 */
import {
  ChatTemplate, HfTokenizer, KNOWN_PRETOKENIZER_PATTERNS, MAX_TEMPLATE_CHARS, MAX_TOKEN_CHARS, imageQuestion, isQuantifierFree,
} from '@tfjs-mbq/format';
import { BYTE_LEVEL_CONFIG, byteLevelTokenizer } from './helpers/tokenizers.js';

type Json = Record<string, unknown>;

function withSplit(regex: string): Json {
  const t = byteLevelTokenizer() as Json;
  return { ...t, pre_tokenizer: { type: 'Sequence', pretokenizers: [
    { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
  ] } };
}

function oneLine(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    const m = (e as Error).message;
    expect(m.split('\n')).toHaveLength(1);
    return m;
  }
  throw new Error('expected a refusal');
}

describe('tokenizer.json regex patterns', () => {
  it.each([
    ['exponential nested quantifier', '(a+)+$'],
    ['exponential alternation', '(a|a)*b'],
    ['quadratic single quantifier', '\\s*x'],
    ['a known pattern with one character changed', [...KNOWN_PRETOKENIZER_PATTERNS.keys()][0]!.replace('\\s+(?!\\S)', '\\s+(?!\\s)')],
    ['a counted repeat', '(ab){2,}c'],
    ['an escaped paren made optional', '\\(?x+'],
  ])('refuses %s at load, naming the file and the section', (_what, regex) => {
    const m = oneLine(() => new HfTokenizer(withSplit(regex), BYTE_LEVEL_CONFIG, 'ckpt/tokenizer.json'));
    expect(m).toMatch(/^ckpt\/tokenizer\.json: pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex ".*" has quantifiers and is not one of the pre-tokenizer patterns/);
  });

  it('refuses a hostile pattern in a normalizer and a decoder too', () => {
    const t = byteLevelTokenizer() as Json;
    const bad = { type: 'Replace', pattern: { Regex: '(x*)*y' }, content: '' };
    expect(oneLine(() => new HfTokenizer({ ...t, normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, bad] } }, BYTE_LEVEL_CONFIG))).toMatch(/^tokenizer\.json: normalizer\.normalizers\[1\]\.pattern\.Regex/);
    expect(oneLine(() => new HfTokenizer({ ...t, decoder: bad }, BYTE_LEVEL_CONFIG))).toMatch(/^tokenizer\.json: decoder\.pattern\.Regex/);
  });

  it('accepts the known pre-tokenizer patterns and quantifier-free ones, which encode as before', () => {
    for (const p of KNOWN_PRETOKENIZER_PATTERNS.keys()) expect(() => new HfTokenizer(withSplit(p), BYTE_LEVEL_CONFIG)).not.toThrow();
    const plain = new HfTokenizer(withSplit('[.,;]|(?:ab|cd)|(?=x)|\\p{N}|\\u{1F600}'), BYTE_LEVEL_CONFIG);
    expect(plain.encode('ab,cd')).toEqual(new HfTokenizer(byteLevelTokenizer(), BYTE_LEVEL_CONFIG).encode('ab,cd'));
  });

  it('tells quantifiers from the same characters in classes, escapes and group openers', () => {
    expect(isQuantifierFree('[*+?{]\\*\\+\\?\\{(?:a)(?i:b)(?<=c)(?<n>d)\\k<n>\\p{L}')).toBe(true);
    for (const q of ['a*', 'a+', 'a?', 'a{2}', '(?:a)?', '[a]+', '\\p{L}+', '\\(?']) expect(isQuantifierFree(q)).toBe(false);
  });
});

describe('tokenizer.json sizes and nesting', () => {
  it('refuses an added token longer than the limit (the trie walk per character is bounded by it)', () => {
    const t = byteLevelTokenizer() as Json & { added_tokens: Json[] };
    const long = { id: 300, content: 'a'.repeat(MAX_TOKEN_CHARS + 1), single_word: false, lstrip: false, rstrip: false, normalized: false, special: false };
    expect(oneLine(() => new HfTokenizer({ ...t, added_tokens: [...t.added_tokens, long] }, BYTE_LEVEL_CONFIG))).toBe(
      `tokenizer.json: added_tokens[6] has ${MAX_TOKEN_CHARS + 1} characters, more than the limit of ${MAX_TOKEN_CHARS}`,
    );
  });

  it('takes a long list of short added tokens, and encodes with them', () => {
    const t = byteLevelTokenizer() as Json & { added_tokens: Json[] };
    const many = Array.from({ length: 20000 }, (_, i) => ({ id: 300 + i, content: `<t${i}>`, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
    const tok = new HfTokenizer({ ...t, added_tokens: [...t.added_tokens, ...many] }, BYTE_LEVEL_CONFIG);
    expect(tok.encode('<t19999><t7>')).toEqual([20299, 307]);
  });

  it('refuses nesting deeper than the limit without overflowing the stack', () => {
    const t = byteLevelTokenizer() as Json;
    let n: Json = { type: 'NFC' };
    for (let i = 0; i < 100000; i++) n = { type: 'Sequence', normalizers: [n] };
    expect(oneLine(() => new HfTokenizer({ ...t, normalizer: n }, BYTE_LEVEL_CONFIG))).toMatch(/^tokenizer\.json: normalizer(\.normalizers(\[0\])?)+ nests deeper than 32 levels$/);
  });
});

describe('chat templates that loop or explode', () => {
  const render = (source: string): string => new ChatTemplate(source, 'ckpt/chat_template.jinja').render(imageQuestion('what?'), { addGenerationPrompt: true, specialTokens: {} });

  it.each([
    ['nested loops', '{% for i in range(60000) %}{% for j in range(60000) %}x{% endfor %}{% endfor %}', /takes more than 20000 steps/],
    ['a range of a million', '{% for i in range(1000000) %}{% endfor %}', /range\(\) of 1000000 items exceeds the limit of 65536/],
    ['a huge range', '{% for i in range(10**12) %}{% endfor %}', /integer 1000000000000, beyond the limit/],
    ['doubling a string', "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}", /string of \d+ characters, more than the limit of 1048576/],
    ['a wide indent', "{{ 'a\\nb' | indent(1000000000) }}", /integer 1000000000, beyond the limit/],
    ['a loop over a growing list', "{% set ns = namespace(l=[1]) %}{% for i in range(100) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", /add up to more than|takes more than|integer/],
    ['unbounded recursion', '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}', /.+/],
  ])('%s: refused within a bounded budget, one line naming the file', (_what, source, why) => {
    const m = oneLine(() => render(source));
    expect(m).toMatch(/^ckpt\/chat_template\.jinja: cannot render the chat template: /);
    expect(m).toMatch(why);
  });

  it('refuses a template source over the size limit at load', () => {
    expect(oneLine(() => new ChatTemplate('x'.repeat(MAX_TEMPLATE_CHARS + 1), 'chat_template.jinja'))).toBe(
      `chat_template.jinja: cannot parse the chat template: the template has ${MAX_TEMPLATE_CHARS + 1} characters, more than the limit of ${MAX_TEMPLATE_CHARS}`,
    );
  });

  it('still renders real templates: globals, loops, raise_exception', () => {
    expect(render("{% for m in messages %}{{ m['role'] }}:{% for c in m['content'] %}{{ c['type'] }}{% endfor %}{% endfor %}{{ range(3) | join(',') }}{{ True }}"))
      .toBe('user:imagetext0,1,2true');
    expect(oneLine(() => render("{{ raise_exception('no system role') }}"))).toBe('ckpt/chat_template.jinja: cannot render the chat template: no system role');
  });
});
