/**
 * Worst times seen for hostile text (issue 15 §4): every accepted pre-tokenizer pattern of
 * tokenizer_limits.ts, run by the tokenizer library (as HfTokenizer builds it) on inputs of the
 * tokenizer's character limit shaped to make a backtracking engine work (runs of whitespace before
 * a non-space, of newlines, apostrophes, digits, punctuation, letters with marks, alternations of
 * them); and a chat template that hits each render limit. Baseline in the same run: `\s*x`, a
 * pattern the limits refuse, on 65,536 spaces.
 *   bash packages/format/bench/run.sh
 */
import { ChatTemplate, DEFAULT_MAX_INPUT_CHARS, HfTokenizer, KNOWN_PRETOKENIZER_PATTERNS, imageQuestion } from '@tfjs-mbq/format';

const N = DEFAULT_MAX_INPUT_CHARS;
const rep = (unit: string, tail = ''): string => unit.repeat(Math.floor((N - tail.length) / unit.length)) + tail;
const INPUTS: Record<string, string> = {
  spaces: rep(' '), 'spaces then x': rep(' ', 'x'), 'tabs then newline': rep('\t', '\n'), 'space newline': rep(' \n'), 'newline space x': rep('\n x'),
  'CR LF space': rep('\r\n '), letters: rep('a'), 'letters with marks': rep('e\u0301'), digits: rep('1'), punctuation: rep('!'), 'space punct': rep(' !'),
  apostrophes: rep("'"), "'s": rep("'s"), "' s": rep("' s"), 'punct newline': rep('!\n'), 'mixed ws': rep(' \t\r\u3000'), emoji: rep('😀'), 'a!1 ': rep('a!1 '),
};

function ms(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function byteLevel(regex: string): object {
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[String.fromCodePoint(b < 0x21 ? 256 + b : b)] = b;
  return {
    version: '1.0', added_tokens: [], normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
    decoder: { type: 'ByteLevel' }, model: { type: 'BPE', vocab, merges: [], byte_fallback: false, ignore_merges: false },
  };
}

const rows: string[] = [];
const baseline = ms(() => rep(' ').match(/\s*x/gu));
rows.push(`baseline: /\\s*x/ (refused by the limits) on ${N} spaces: ${baseline.toFixed(0)} ms`);
for (const [pattern, family] of KNOWN_PRETOKENIZER_PATTERNS) {
  const tok = new HfTokenizer(byteLevel(pattern), { eos_token: undefined });
  tok.encode('warm up');
  let worst = 0;
  let worstName = '';
  for (const [name, text] of Object.entries(INPUTS)) {
    const t = Math.min(ms(() => tok.encode(text)), ms(() => tok.encode(text)));
    if (t > worst) [worst, worstName] = [t, name];
  }
  rows.push(`${family} pattern: worst ${worst.toFixed(0)} ms over ${Object.keys(INPUTS).length} hostile inputs of ${N} chars (${worstName})`);
}
for (const [name, source] of Object.entries({
  'nested loops (step limit)': '{% for i in range(60000) %}{% for j in range(60000) %}x{% endfor %}{% endfor %}',
  'growing output (size or string limit)': "{% set ns = namespace(s='x') %}{% for i in range(60000) %}{% set ns.s = ns.s + messages[0]['content'][1]['text'] %}{% endfor %}",
})) {
  const t = new ChatTemplate(source, 'chat_template.jinja');
  let why = '';
  const took = ms(() => { try { t.render(imageQuestion('q'.repeat(N)), { addGenerationPrompt: true, specialTokens: {} }); } catch (e) { why = (e as Error).message; } });
  rows.push(`template ${name}: refused after ${took.toFixed(0)} ms (${why.replace(/^.*?: cannot render the chat template: /, '')})`);
}
process.stdout.write(rows.join('\n') + '\n');
