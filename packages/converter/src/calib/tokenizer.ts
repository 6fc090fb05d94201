/**
 * The calibration tokenizer: the model directory's tokenizer.json through the format package's
 * tokenizer front, with the `error` unknown-word policy (a caption outside the vocabulary is a data
 * error), its errors as ConversionErrors.
 */
import { InputTooLongError, UnknownWordError, WordLevelTokenizer } from '@tfjs-mbq/format';
import { ConversionError } from '../io/errors.js';

export interface Tokenizer {
  /** Token ids of a text; throws a ConversionError naming `where` for a word not in the vocabulary. */
  encode(text: string, where: string): number[];
  readonly vocabSize: number;
}

export function loadTokenizer(json: unknown, file: string): Tokenizer {
  let tok: WordLevelTokenizer;
  try {
    tok = new WordLevelTokenizer(json, file, { unknownWords: 'error' });
  } catch (e) {
    throw new ConversionError('TOKENIZER', (e as Error).message, file);
  }
  return {
    vocabSize: tok.vocabSize,
    encode(text: string, where: string): number[] {
      try {
        return tok.encode(text, { where });
      } catch (e) {
        if (e instanceof UnknownWordError) throw new ConversionError('CALIB_TOKEN', e.message, where);
        if (e instanceof InputTooLongError) throw new ConversionError('CALIB_MANIFEST', e.message, where);
        throw e;
      }
    },
  };
}
