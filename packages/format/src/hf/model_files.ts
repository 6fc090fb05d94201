/**
 * The Hugging Face files a model directory carries next to model.json: the checkpoint's own
 * tokenizer, chat template, processor and generation settings, kept verbatim by the importer and
 * by every conversion, so the prompt builder and image processor of an imported model always read
 * what transformers reads. One list, one reader (over any FileSource).
 */
import { FormatError } from '../errors.js';
import { readJsonFile, readOptionalJsonFile, type JsonFile } from '../read_model.js';
import { MAX_JSON_BYTES, SourceReadError, type FileSource } from '../source.js';
import type { HfTextFiles } from './prompt.js';

/** The checkpoint files an imported model directory holds verbatim, when the checkpoint has them. */
export const HF_SIDECAR_FILES = [
  'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json',
  'chat_template.jinja', 'chat_template.json', 'processor_config.json', 'preprocessor_config.json',
] as const;
export type HfSidecarFile = (typeof HF_SIDECAR_FILES)[number];

/** The JSON sidecars that must be present (config.json and tokenizer.json: every model directory has them). */
const REQUIRED: ReadonlySet<HfSidecarFile> = new Set(['config.json', 'tokenizer.json', 'tokenizer_config.json']);

export interface HfModelFiles {
  /** What the prompt builder reads (hfPromptFromFiles). */
  text: HfTextFiles;
  /** Each present file's bytes as read, in HF_SIDECAR_FILES order (a copy writes them unchanged). */
  bytes: Map<HfSidecarFile, Uint8Array>;
}

/** The UTF-8 text of a file, undefined when it does not exist. */
async function readOptionalText(source: FileSource, file: string): Promise<Uint8Array | undefined> {
  try {
    return await source.read(file, MAX_JSON_BYTES);
  } catch (e) {
    if (e instanceof SourceReadError && e.problem === 'not-found') return undefined;
    if (e instanceof SourceReadError) throw new FormatError('TOKENIZER', e.message, e.where);
    throw e;
  }
}

function utf8(bytes: Uint8Array, where: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError('TOKENIZER', `${where}: not UTF-8 text`, where);
  }
}

/** Reads the Hugging Face sidecars of a model directory (errors name the file through `source.where`). */
export async function readHfModelFiles(source: FileSource): Promise<HfModelFiles> {
  const bytes = new Map<HfSidecarFile, Uint8Array>();
  const json = new Map<HfSidecarFile, JsonFile>();
  let jinja: string | undefined;
  for (const f of HF_SIDECAR_FILES) {
    if (f === 'chat_template.jinja') {
      const b = await readOptionalText(source, f);
      if (b !== undefined) { jinja = utf8(b, source.where(f)); bytes.set(f, b); }
      continue;
    }
    const code = f === 'config.json' ? 'CONFIG' : f.startsWith('tokenizer') || f.startsWith('chat') || f === 'special_tokens_map.json' ? 'TOKENIZER' : 'IMAGE_PROCESSOR';
    const read = REQUIRED.has(f) ? await readJsonFile(source, f, code) : await readOptionalJsonFile(source, f, code);
    if (read) { json.set(f, read); bytes.set(f, read.bytes); }
  }
  const value = (f: HfSidecarFile): unknown => json.get(f)?.value;
  return {
    text: {
      config: value('config.json'), tokenizer: value('tokenizer.json'), tokenizerConfig: value('tokenizer_config.json'),
      chatTemplateJinja: jinja, chatTemplateJson: value('chat_template.json'),
      processorConfig: value('processor_config.json'), preprocessorConfig: value('preprocessor_config.json'),
    },
    bytes,
  };
}
