import { HfTokenizer, InputTooLongError } from '@tfjs-mbq/format';
import {
  BYTE_FALLBACK_CONFIG, BYTE_LEVEL_CONFIG, BYTE_LEVEL_IDS as B, FALLBACK_IDS as F,
  byteFallbackTokenizer, byteId, byteLevelTokenizer, utf8,
} from './helpers/tokenizers.js';

describe('HfTokenizer, byte-level BPE (Qwen2 layout)', () => {
  const tok = new HfTokenizer(byteLevelTokenizer(), BYTE_LEVEL_CONFIG);

  it('splits with the Qwen2 regex and merges by rank (hand-computed ids)', () => {
    // "what" | " color" | "?" -> what, Ġcolor, ?
    expect(tok.encode('what color?')).toEqual([B.what, B.Gcolor, 0x3f]);
    // no merge reaches "Ġwhat": Ġ, what
    expect(tok.encode(' what')).toEqual([0x20, B.what]);
  });

  it('encodes bytes outside the merges as their UTF-8 bytes, and added tokens verbatim', () => {
    expect(tok.encode('é\n')).toEqual([...utf8('é'), 0x0a]);
    expect(tok.encode('<|im_start|>what<|im_end|>\n')).toEqual([B.imStart, B.what, B.imEnd, 0x0a]);
  });

  it('adds nothing with the ByteLevel post-processor, names its special tokens, decodes back', () => {
    expect(tok.encode('what', { addSpecialTokens: true })).toEqual([B.what]);
    expect(tok.eosTokenId).toBe(B.imEnd);
    expect(tok.bosTokenId).toBeUndefined();
    expect(tok.vocabSize).toBe(B.imagePad + 1);
    expect(tok.modelMaxLength).toBe(512);
    expect(tok.decode([B.what, B.Gcolor, 0x3f, B.imEnd])).toBe('what color?');
  });

  it('rebuilds the post-processor as transformers does when add_bos/add_eos are stated', () => {
    const withEos = new HfTokenizer(byteLevelTokenizer(), { ...BYTE_LEVEL_CONFIG, add_bos_token: false, add_eos_token: true });
    expect(withEos.encode('what', { addSpecialTokens: true })).toEqual([B.what, B.imEnd]);
    expect(withEos.encode('what')).toEqual([B.what]);
  });

  it('refuses text over maxInputChars before tokenizing, naming where it came from', () => {
    const small = new HfTokenizer(byteLevelTokenizer(), BYTE_LEVEL_CONFIG, 'm/tokenizer.json', { maxInputChars: 8 });
    expect(small.encode('what')).toEqual([B.what]);
    expect(() => small.encode('what color?', { where: 'question' })).toThrow(InputTooLongError);
    expect(() => small.encode('what color?', { where: 'question' })).toThrow('question: the text has 11 characters, more than the tokenizer accepts (8, maxInputChars)');
    // The default limit holds a million characters off too (no stack or memory blow-up).
    expect(() => tok.encode('a'.repeat(1_000_000))).toThrow(InputTooLongError);
  });
});

describe('HfTokenizer, BPE with byte fallback (Llama layout)', () => {
  const tok = new HfTokenizer(byteFallbackTokenizer(), BYTE_FALLBACK_CONFIG);

  it('prepends ▁, replaces spaces, merges, and falls back to bytes (hand-computed ids)', () => {
    expect(tok.encode('what color?')).toEqual([F.what, F.color, byteId(0x3f)]);
    expect(tok.encode('é')).toEqual([F.sp, byteId(0xc3), byteId(0xa9)]);
  });

  it('adds <s> through tokenizer.json\'s TemplateProcessing, or as tokenizer_config.json says', () => {
    expect(tok.encode('what', { addSpecialTokens: true })).toEqual([F.bos, F.what]);
    const noBos = new HfTokenizer(byteFallbackTokenizer(), { ...BYTE_FALLBACK_CONFIG, add_bos_token: false });
    expect(noBos.encode('what', { addSpecialTokens: true })).toEqual([F.what]);
    const both = new HfTokenizer(byteFallbackTokenizer(), { ...BYTE_FALLBACK_CONFIG, add_bos_token: true, add_eos_token: true });
    expect(both.encode('what', { addSpecialTokens: true })).toEqual([F.bos, F.what, F.eos]);
  });

  it('normalizes each piece between added tokens on its own (Prepend after <image>)', () => {
    // "<image>\nwhat" -> <image>, ▁, <0x0A>, w, ha, t (no "▁w" merge: the ▁ stands before the newline)
    expect(tok.encode('<image>\nwhat')).toEqual([F.image, F.sp, byteId(0x0a), F.w, F.ha, F.t]);
  });

  it('decodes bytes back to text, special tokens left out', () => {
    expect(tok.decode([F.bos, F.what, F.color, byteId(0xc3), byteId(0xa9), F.eos])).toBe('what coloré');
    expect(tok.specialIds.has(F.image)).toBe(true);
  });

  it('names the file for a tokenizer_config.json whose flags or tokens are wrong', () => {
    expect(() => new HfTokenizer(byteFallbackTokenizer(), { ...BYTE_FALLBACK_CONFIG, add_bos_token: 'yes' }, 'm/tokenizer.json'))
      .toThrow('m/tokenizer_config.json: add_bos_token must be true or false, got "yes"');
    expect(() => new HfTokenizer(byteFallbackTokenizer(), { ...BYTE_FALLBACK_CONFIG, bos_token: '<bos>', add_bos_token: true }, 'm/tokenizer.json'))
      .toThrow('m/tokenizer_config.json: special token "<bos>" is not in the vocabulary');
    expect(() => new HfTokenizer({ version: '1.0' }, {}, 'm/tokenizer.json')).toThrow("m/tokenizer.json: not a Hugging Face tokenizer.json (no 'model' section)");
  });
});
