import { WordLevelTokenizer } from '@tfjs-mbq/runtime';
import { TOKENIZER } from './helpers/tiny_vlm.js';

const tokenizerJson = (): Record<string, unknown> => ({ ...TOKENIZER.toJson() });

describe('WordLevelTokenizer (the format package\'s word-level kind, as the runtime loads it)', () => {
  const tok = new WordLevelTokenizer(tokenizerJson());
  const id = (w: string): number => TOKENIZER.words.indexOf(w);

  it('lower-cases and splits words from punctuation like the Whitespace pre-tokenizer', () => {
    expect(tok.encode('What color is the Shape?')).toEqual(['what', 'color', 'is', 'the', 'shape', '?'].map(id));
    expect(tok.encode('what  color\tis the shape ?')).toEqual(tok.encode('what color is the shape?'));
  });

  it('maps unknown words to <unk> and matches added tokens verbatim', () => {
    expect(tok.encode('what hue')).toEqual([id('what'), id('<unk>')]);
    expect(tok.encode('<image><image> red')).toEqual([id('<image>'), id('<image>'), id('red')]);
  });

  it('decodes words with single spaces and drops special tokens', () => {
    expect(tok.decode([id('<bos>'), id('large'), id('red'), id('circle'), id('<eos>')])).toBe('large red circle');
  });

  it('rejects tokenizers it cannot reproduce, naming the file', () => {
    const bpe = { ...tokenizerJson(), model: { type: 'BPE', vocab: {} } };
    expect(() => new WordLevelTokenizer(bpe, 'm/tokenizer.json')).toThrow(/m\/tokenizer.json: model type "BPE" is not a word-level tokenizer/);
    const unknown = { ...tokenizerJson(), pre_tokenizer: { type: 'Nonesuch' } };
    expect(() => new WordLevelTokenizer(unknown, 'm/tokenizer.json')).toThrow(/m\/tokenizer.json: cannot build the tokenizer: Unknown PreTokenizer type: Nonesuch/);
  });

  it('supports Sequence, Punctuation and Split pre-tokenizers', () => {
    const json = { ...tokenizerJson(), pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Punctuation', behavior: 'Isolated' }] } };
    expect(new WordLevelTokenizer(json).encode('red square?')).toEqual([id('red'), id('square'), id('?')]);
    const split = { ...tokenizerJson(), pre_tokenizer: { type: 'Split', pattern: { String: ' ' }, behavior: 'Removed' } };
    expect(new WordLevelTokenizer(split).encode('red square')).toEqual([id('red'), id('square')]);
  });
});
