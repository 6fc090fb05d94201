/**
 * The files of a Hugging Face checkpoint directory besides the weights: config.json, the
 * tokenizer files, the chat template and the processor settings. Missing or malformed required
 * files are one ImportError naming the file.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HF_SIDECAR_FILES } from '@tfjs-mbq/format';
import { ImportError, type ImportErrorCode } from './errors.js';
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
  present: string[];
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function text(path: string, code: ImportErrorCode): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    throw new ImportError(code, `${path}: cannot read (${c === 'ENOENT' ? 'file not found' : c ?? (e as Error).message})`, path);
  }
}

async function json(path: string, code: ImportErrorCode): Promise<unknown> {
  const t = await text(path, code);
  try {
    return JSON.parse(t.charCodeAt(0) === 0xfeff ? t.slice(1) : t);
  } catch (e) {
    throw new ImportError(code, `${path}: malformed JSON (${(e as Error).message})`, path);
  }
}

/** True when `dir` looks like a Hugging Face checkpoint: config.json with `architectures`, and safetensors weights. */
export async function isHfCheckpointDir(dir: string): Promise<boolean> {
  if (!(await isFile(join(dir, 'config.json')))) return false;
  if (!(await isFile(join(dir, SINGLE_FILE))) && !(await isFile(join(dir, INDEX_FILE)))) return false;
  try {
    const c = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { architectures?: unknown };
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
  const present: string[] = [];
  for (const f of HF_SIDECAR_FILES) if (await isFile(join(dir, f))) present.push(f);
  const optional = async (f: string, code: ImportErrorCode): Promise<unknown> => (present.includes(f) ? json(join(dir, f), code) : undefined);
  return {
    dir,
    config: await json(join(dir, 'config.json'), 'CONFIG'),
    tokenizer: await json(join(dir, 'tokenizer.json'), 'TOKENIZER'),
    tokenizerConfig: await json(join(dir, 'tokenizer_config.json'), 'TOKENIZER'),
    chatTemplateJinja: present.includes('chat_template.jinja') ? await text(join(dir, 'chat_template.jinja'), 'TOKENIZER') : undefined,
    chatTemplateJson: await optional('chat_template.json', 'TOKENIZER'),
    processorConfig: await optional('processor_config.json', 'PROCESSOR'),
    preprocessorConfig: await optional('preprocessor_config.json', 'PROCESSOR'),
    present,
  };
}
