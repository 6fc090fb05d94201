/** The tokenizer of a model directory (Hugging Face tokenizer.json, WordLevel model). */
import { ConversionError } from '../io/errors.js';

export interface Tokenizer {
  /** Token ids of a text; throws a ConversionError naming `where` for a word not in the vocabulary. */
  encode(text: string, where: string): number[];
  readonly vocabSize: number;
}

interface WordLevelJson {
  normalizer?: { type?: string } | null;
  pre_tokenizer?: { type?: string } | null;
  model?: { type?: string; vocab?: Record<string, number>; unk_token?: string };
}

export function loadTokenizer(json: unknown, file: string): Tokenizer {
  const t = json as WordLevelJson;
  if (!t || typeof t !== 'object' || t.model?.type !== 'WordLevel' || typeof t.model.vocab !== 'object' || t.model.vocab === null) {
    throw new ConversionError('TOKENIZER', `${file}: expected a Hugging Face tokenizer.json with a WordLevel model and a vocab (got model type ${JSON.stringify(t?.model?.type)})`, file);
  }
  const vocab = new Map<string, number>();
  for (const [w, id] of Object.entries(t.model.vocab)) {
    if (!Number.isInteger(id) || id < 0) throw new ConversionError('TOKENIZER', `${file}: vocab entry "${w}" has id ${JSON.stringify(id)}, expected a non-negative integer`, file);
    vocab.set(w, id);
  }
  const lower = t.normalizer?.type === 'Lowercase';
  return {
    vocabSize: vocab.size,
    encode(text: string, where: string): number[] {
      const norm = lower ? text.toLowerCase() : text;
      const pieces = norm.match(/\w+|[^\w\s]+/g) ?? [];
      return pieces.map((p) => {
        const id = vocab.get(p);
        if (id === undefined) {
          throw new ConversionError('CALIB_TOKEN', `${where}: word "${p}" is not in the tokenizer's vocabulary (${file})`, where);
        }
        return id;
      });
    },
  };
}
