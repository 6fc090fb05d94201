import { readFileSync } from 'node:fs';
import { FixedImagePrompt, UnknownWordError, WordLevelTokenizer } from '@tfjs-mbq/format';

const json = JSON.parse(readFileSync('fixtures/tiny-vlm/tokenizer.json', 'utf8')) as { model: { vocab: Record<string, number> } };
const id = (w: string): number => json.model.vocab[w]!;

describe('WordLevelTokenizer (the project\'s own tokenizer.json)', () => {
  const tok = new WordLevelTokenizer(json, 'tiny-vlm/tokenizer.json');

  it('follows the normalizer (Lowercase) and the Whitespace pre-tokenizer', () => {
    expect(tok.encode('What color is the Shape?')).toEqual(['what', 'color', 'is', 'the', 'shape', '?'].map(id));
    expect(tok.encode('what  color\tis the shape ?')).toEqual(tok.encode('what color is the shape?'));
    expect(tok.encode('<image><image> red')).toEqual([id('<image>'), id('<image>'), id('red')]);
    expect(tok.vocabSize).toBe(Object.keys(json.model.vocab).length);
  });

  it('maps an unknown word to <unk>, or throws naming the word, where and file under "error"', () => {
    expect(tok.encode('what hue')).toEqual([id('what'), id('<unk>')]);
    const strict = new WordLevelTokenizer(json, 'tiny-vlm/tokenizer.json', { unknownWords: 'error' });
    expect(strict.encode('what color')).toEqual([id('what'), id('color')]);
    expect(() => strict.encode('what hue', { where: 'manifest.jsonl:3' })).toThrow(UnknownWordError);
    expect(() => strict.encode('what hue', { where: 'manifest.jsonl:3' })).toThrow('manifest.jsonl:3: word "hue" is not in the tokenizer\'s vocabulary (tiny-vlm/tokenizer.json)');
  });

  it('lower-cases first when asked, even without a Lowercase normalizer', () => {
    const plain = { ...json, normalizer: null };
    expect(new WordLevelTokenizer(plain).encode('Red')).toEqual([id('<unk>')]);
    expect(new WordLevelTokenizer(plain, 'tokenizer.json', { lowercase: true }).encode('Red')).toEqual([id('red')]);
  });

  it('decodes to words joined by single spaces, special tokens left out', () => {
    expect(tok.decode([id('<bos>'), id('large'), id('red'), id('circle'), id('<eos>')])).toBe('large red circle');
  });

  it('refuses what is not a word-level tokenizer.json, naming the file', () => {
    expect(() => new WordLevelTokenizer({ ...json, model: { type: 'BPE', vocab: {} } }, 'm/tokenizer.json')).toThrow('m/tokenizer.json: model type "BPE" is not a word-level tokenizer (expected WordLevel)');
    expect(() => new WordLevelTokenizer({ ...json, model: { type: 'WordLevel', vocab: { a: -1 } } }, 'm/tokenizer.json')).toThrow('m/tokenizer.json: vocab entry "a" has id -1');
    expect(() => new WordLevelTokenizer({ ...json, pre_tokenizer: { type: 'Nonesuch' } }, 'm/tokenizer.json')).toThrow(/^m\/tokenizer.json: cannot build the tokenizer/);
  });

  it('lays out the fixture prompt as [BOS, <image> x N, question] and bounds it', () => {
    const layout = { bosTokenId: id('<bos>'), eosTokenId: id('<eos>'), imageTokenId: id('<image>'), imageTokenCount: 3 };
    const p = new FixedImagePrompt(tok, layout, 7);
    expect(p.prompt('what color?', undefined)).toEqual({ ids: [id('<bos>'), id('<image>'), id('<image>'), id('<image>'), id('what'), id('color'), id('?')], imageTokenOffset: 1, imageTokenCount: 3 });
    expect(() => p.prompt('what color is it?', undefined, 'answer')).toThrow('answer: the prompt has 9 tokens; the model takes at most 7 positions');
  });
});
