/**
 * The prompt builder of a model directory, by mbq.json's `tokenizer` kind: `word-level` (the
 * project's own models: `[BOS, <image> x N, question]`) or `hf` (a Hugging Face tokenizer with its
 * chat template and processor's image-token rule, as `@tfjs-mbq/importer` writes them).
 */
import { FixedImagePrompt, WordLevelTokenizer, hfPromptFromFiles, type PromptBuilder } from '@tfjs-mbq/format';
import type { MbqConfig } from './mbq_config.js';
import type { ModelSource } from './sources.js';

/** A file that may be absent (missing locally, or 404 over HTTP); other failures are errors. */
async function optional<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (/: file not found$|: HTTP 404 /.test((e as Error).message)) return undefined;
    throw e;
  }
}

export async function loadPromptBuilder(source: ModelSource, location: string, mbq: MbqConfig, hfConfig: unknown, maxSeq: number | undefined): Promise<PromptBuilder> {
  const tokenizer = await source.json<unknown>('tokenizer.json');
  if (mbq.tokenizer === 'word-level') {
    // The runtime follows the tokenizer's own normalizer and maps unknown words to <unk>.
    return new FixedImagePrompt(new WordLevelTokenizer(tokenizer, `${location}/tokenizer.json`, { unknownWords: 'unk' }), mbq);
  }
  const [tokenizerConfig, chatTemplateJinja, chatTemplateJson, processorConfig, preprocessorConfig] = await Promise.all([
    source.json<unknown>('tokenizer_config.json'),
    optional(() => source.text('chat_template.jinja')),
    optional(() => source.json<unknown>('chat_template.json')),
    optional(() => source.json<unknown>('processor_config.json')),
    optional(() => source.json<unknown>('preprocessor_config.json')),
  ]);
  if (hfConfig === null || hfConfig === undefined) throw new Error(`${location}/config.json: a Hugging Face model (mbq.json tokenizer "hf") needs its config.json`);
  return hfPromptFromFiles(
    { tokenizer, tokenizerConfig, config: hfConfig, chatTemplateJinja, chatTemplateJson, processorConfig, preprocessorConfig },
    { location, maxPromptTokens: maxSeq },
  );
}
