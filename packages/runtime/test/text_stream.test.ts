/**
 * TextStream (the text `onToken` streams) against the full decode, on the real tokenizers of
 * fixtures/hf (SentencePiece BPE with `<0xNN>` byte fallback; byte-level BPE) and the fixture's
 * word-level one: random token sequences, many of them bytes of multi-byte characters cut anywhere.
 * The deltas make the full decode; nothing complete is held back; a window, not the whole
 * sequence, is decoded per token.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HfTokenizer, WordLevelTokenizer, type TextTokenizer } from '@tfjs-mbq/format';
import { mulberry32 } from '@tfjs-mbq/ops';
import { TextStream } from '../src/decoding/text_stream.js';

const json = (f: string): unknown => JSON.parse(readFileSync(f, 'utf8'));
const hf = (dir: string): HfTokenizer => new HfTokenizer(json(join('fixtures/hf', dir, 'tokenizer.json')), json(join('fixtures/hf', dir, 'tokenizer_config.json')));
const TEXT = 'héllo wörld — naïve café, 日本語のテキスト 😀👍🏽 ok. Ünïcödé ∑∫√ 한국어 x';

interface Case { name: string; tok: TextTokenizer }
const cases: Case[] = [
  { name: 'llava-1.5-tiny (BPE, byte fallback)', tok: hf('llava-1.5-tiny') },
  { name: 'qwen2-vl-tiny (byte-level BPE)', tok: hf('qwen2-vl-tiny') },
  { name: 'tiny-vlm (word level)', tok: new WordLevelTokenizer(json('fixtures/tiny-vlm/tokenizer.json')) },
];

/** Ids of the tokenizer whose piece is one byte of a multi-byte character (`<0xNN>`, NN >= 0x80, or a byte-level char of such a byte). */
function byteTokens(tok: TextTokenizer): number[] {
  const ids: number[] = [];
  for (let id = 0; id < tok.vocabSize; id++) {
    const d = tok.decode([id]);
    if (d === '\uFFFD') ids.push(id);
  }
  return ids;
}

/** A random sequence: runs of the encoded multi-byte text, random byte tokens, random ids (special ones included). */
function randomIds(tok: TextTokenizer, rand: () => number, bytes: number[], encoded: number[]): number[] {
  const out: number[] = [];
  const n = Math.floor(rand() * 40);
  while (out.length < n) {
    const r = rand();
    if (r < 0.4) {
      const start = Math.floor(rand() * encoded.length);
      out.push(...encoded.slice(start, start + 1 + Math.floor(rand() * 8)));
    } else if (r < 0.7 && bytes.length > 0) {
      out.push(bytes[Math.floor(rand() * bytes.length)]!);
    } else {
      out.push(Math.floor(rand() * tok.vocabSize));
    }
  }
  return out;
}

type Decoding = Pick<TextTokenizer, 'decode' | 'specialIds'>;

/** Streams `ids` (the last one `last`); returns each step's text. */
function stream(tok: Decoding, ids: readonly number[], last = true): string[] {
  const s = new TextStream(tok);
  const texts: string[] = [];
  let joined = '';
  ids.forEach((id, i) => {
    joined += s.push(id, last && i === ids.length - 1);
    expect(s.text).toBe(joined);
    texts.push(s.text);
  });
  return texts;
}

describe.each(cases)('$name', ({ tok }) => {
  const bytes = byteTokens(tok);
  const encoded = tok.encode(TEXT);

  it('the encoded multi-byte text streams to its decode, growing only by whole characters', () => {
    const texts = stream(tok, encoded);
    expect(texts[texts.length - 1]).toBe(tok.decode(encoded));
    for (const t of texts) expect(t.includes('\uFFFD')).toBe(false);
  });

  it('300 random sequences: the deltas make the full decode; each step holds back only an incomplete character', () => {
    const rand = mulberry32(17);
    let heldBack = 0;
    for (let k = 0; k < 300; k++) {
      const ids = randomIds(tok, rand, bytes, encoded);
      const texts = stream(tok, ids);
      expect(texts.length === 0 ? '' : texts[texts.length - 1]).toBe(tok.decode(ids));
      // Without `last`, a step's text is the decode so far, less a trailing incomplete character.
      const open = stream(tok, ids, false);
      open.forEach((t, i) => {
        const full = tok.decode(ids.slice(0, i + 1));
        expect(full.startsWith(t)).toBe(true);
        if (!full.endsWith('\uFFFD')) expect(t).toBe(full);
        else heldBack++;
      });
    }
    // The sequences did cut characters (else the check above proves little), except for words.
    if (bytes.length > 0) expect(heldBack).toBeGreaterThan(100);
  });

  it('decodes a window per token: linear in the sequence length', () => {
    let decoded = 0;
    const counting: Decoding = { specialIds: tok.specialIds, decode: (ids) => { decoded += ids.length; return tok.decode(ids); } };
    const ids = Array.from({ length: 40 }, () => encoded).flat();
    const texts = stream(counting, ids);
    expect(texts[texts.length - 1]).toBe(tok.decode(ids));
    // A full decode per token would be ids² / 2 (over 600,000 here).
    expect(decoded).toBeLessThan(12 * ids.length);
  });
});
