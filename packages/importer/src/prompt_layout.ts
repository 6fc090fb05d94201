/**
 * Where the image tokens sit in the checkpoint's prompts: the chat template and tokenizer
 * (through @tfjs-mbq/format's Hugging Face prompt builder, which builds the processor's ids) must
 * put them in one contiguous run at the same offset whatever the question, as the graph
 * replaces a fixed range of positions.
 */
import { hfPromptFromFiles, type ProcessedImageShape } from '@tfjs-mbq/format';
import { ImportError } from './errors.js';
import type { HfDirFiles } from './hf_dir.js';

export interface PromptLayout {
  imageTokenOffset: number;
  imageTokenCount: number;
  imageTokenId: number;
  bosTokenId: number | undefined;
  eosTokenId: number;
  padTokenId: number | undefined;
  /** One past the tokenizer's largest id. */
  tokenizerVocabSize: number;
}

/** Two questions of different lengths: the offset must not move. */
const PROBES = ['a', 'what color is the object at the top left ?'];

export function promptLayout(files: HfDirFiles, image: ProcessedImageShape): PromptLayout {
  try {
    const builder = hfPromptFromFiles(files, { location: files.dir });
    const layouts = PROBES.map((q) => builder.prompt(q, image));
    const [a, b] = layouts as [typeof layouts[0], typeof layouts[0]];
    if (a.imageTokenOffset !== b.imageTokenOffset || a.imageTokenCount !== b.imageTokenCount) {
      throw new Error(`the chat template puts the image tokens at offset ${a.imageTokenOffset} for one question and ${b.imageTokenOffset} for another; the graph needs a fixed offset`);
    }
    const t = builder.tokenizer;
    return {
      imageTokenOffset: a.imageTokenOffset, imageTokenCount: a.imageTokenCount, imageTokenId: builder.imageTokenId,
      bosTokenId: t.bosTokenId, eosTokenId: builder.eosTokenId, padTokenId: t.padTokenId, tokenizerVocabSize: t.vocabSize,
    };
  } catch (e) {
    if (e instanceof ImportError) throw e;
    const msg = (e as Error).message;
    throw new ImportError('TOKENIZER', msg.startsWith(files.dir) ? msg : `${files.dir}: ${msg}`, files.dir);
  }
}
