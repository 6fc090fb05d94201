/**
 * Evaluation's tokenizer: the model directory's tokenizer.json through the format package's
 * tokenizer front. Questions are lower-cased first (answers compare in lower case, see
 * normalizeAnswer) and unknown words become <unk>, as evaluation always did.
 */
import { readFile } from 'node:fs/promises';
import { WordLevelTokenizer } from '@tfjs-mbq/format';

export async function loadEvalTokenizer(file: string): Promise<WordLevelTokenizer> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read tokenizer: ${(e as Error).message}`);
  }
  return new WordLevelTokenizer(json, file, { unknownWords: 'unk', lowercase: true });
}

/** Normal form for exact-match comparison: lower case, tokens separated by single spaces. */
export function normalizeAnswer(text: string): string {
  return (text.toLowerCase().match(/\w+|[^\w\s]+/g) ?? []).join(' ');
}
