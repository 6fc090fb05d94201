/**
 * The files of a Hugging Face checkpoint directory besides the weights: config.json, the
 * tokenizer files, the chat template and the processor settings. Read through the format's file
 * source: regular files only, of bounded size, inside the directory after resolving links (or in
 * the blob store of a Hugging Face cache snapshot, whose files are links into `../../blobs`).
 * Missing or malformed required files are one ImportError naming the file.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HF_SIDECAR_FILES, isFormatError, readHfModelFiles, type HfSidecarFile } from '@tfjs-mbq/format';
import { fileSource } from '@tfjs-mbq/format/node';
import { checkpointRoots } from './checkpoint_roots.js';
import { ImportError } from './errors.js';
import { INDEX_FILE, SINGLE_FILE } from './safetensors/index.js';

/** Files copied verbatim into the imported model directory when present (the format's list: conversions copy the same). */
export { HF_SIDECAR_FILES };

export interface HfDirFiles {
  dir: string;
  config: unknown;
  tokenizer: unknown;
  tokenizerConfig: unknown;
  chatTemplateJinja?: string;
  chatTemplateJson?: unknown;
  processorConfig?: unknown;
  preprocessorConfig?: unknown;
  /** Names of the HF_SIDECAR_FILES present. */
  present: HfSidecarFile[];
  /** Their bytes as read (the import copies these, not the files again). */
  bytes: Map<HfSidecarFile, Uint8Array>;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** True when `dir` looks like a Hugging Face checkpoint: config.json with `architectures`, and safetensors weights. */
export async function isHfCheckpointDir(dir: string): Promise<boolean> {
  if (!(await isFile(join(dir, 'config.json')))) return false;
  if (!(await isFile(join(dir, SINGLE_FILE))) && !(await isFile(join(dir, INDEX_FILE)))) return false;
  try {
    // Read as every checkpoint file is (inside the directory, a regular file), and small: a config.json is a few KB.
    const bytes = await fileSource(dir, { alsoInside: await checkpointRoots(dir) }).read('config.json', 16 * 1024 * 1024);
    const c = JSON.parse(new TextDecoder().decode(bytes)) as { architectures?: unknown };
    return Array.isArray(c.architectures);
  } catch {
    return false;
  }
}

export async function readHfDir(dir: string): Promise<HfDirFiles> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw new ImportError('CONFIG', `${dir}: not a checkpoint directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, dir);
  }
  try {
    const read = await readHfModelFiles(fileSource(dir, { alsoInside: await checkpointRoots(dir) }));
    const t = read.text;
    return {
      dir, config: t.config, tokenizer: t.tokenizer, tokenizerConfig: t.tokenizerConfig, chatTemplateJinja: t.chatTemplateJinja,
      chatTemplateJson: t.chatTemplateJson, processorConfig: t.processorConfig, preprocessorConfig: t.preprocessorConfig,
      present: [...read.bytes.keys()], bytes: read.bytes,
    };
  } catch (e) {
    if (!isFormatError(e)) throw e;
    const code = e.code === 'CONFIG' ? 'CONFIG' : e.code === 'IMAGE_PROCESSOR' ? 'PROCESSOR' : 'TOKENIZER';
    throw new ImportError(code, e.message, e.file);
  }
}
