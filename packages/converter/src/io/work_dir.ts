/**
 * Resumable conversion: the search results of a conversion kept in a work directory as each block
 * finishes (as llm-awq saves its awq_results to apply them later). A conversion started again with
 * the same work directory and the same inputs reuses the saved sensitivity and the finished
 * blocks' scales and searches only the blocks after them. Re-applying saved scales replays the
 * same float operations in the same order, so its output is byte-identical to an uninterrupted run.
 *
 * Layout: `inputs.json` (everything the search results depend on; a different one is refused),
 * `sensitivity.json`, `block-0000.json`, `block-0001.json`, ... (that block's group records, as
 * quantization.json lists them). Each file is written under a temporary name and renamed, so an
 * interrupted write leaves no half file.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { MAX_JSON_BYTES, SourceReadError } from '@tfjs-mbq/format';
import { readRegularFile } from '@tfjs-mbq/format/node';
import { ConversionError } from './errors.js';
import { replaceFile } from './replace_file.js';
import type { GroupRecord } from '../emit/quantization_json.js';
import type { SensitivityResult } from '../sensitivity/index.js';

/** What the search results depend on; two runs may share a work directory only if these are equal. */
export interface WorkInputs {
  /** tfjs backend: float rounding differs between backends, and resuming must not mix them. */
  backend: string;
  options: Record<string, unknown>;
  /** sha256 of model.json, and each weight shard's size and modification time (hashing gigabytes at every start is too slow). */
  model: { modelJsonSha256: string; shards: Array<{ path: string; bytes: number; mtimeMs: number }> };
  /** sha256 of the calibration batch as tokenised and decoded (ids, pixels, masks). */
  calibrationSha256: string;
}

const FORMAT = 'tfjs-mbq-work-dir';

export function sha256(...parts: Array<ArrayBufferView | string>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? p : new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  return h.digest('hex');
}

/** The first path at which two JSON values differ, with both values; null when equal. */
export function firstDifference(a: unknown, b: unknown, at = ''): string | null {
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return JSON.stringify(a) === JSON.stringify(b) ? null : `${at || '(root)'}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  }
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], at ? `${at}.${k}` : k);
    if (d) return d;
  }
  return null;
}

export class WorkDir {
  private constructor(readonly dir: string) {}

  /**
   * Opens (creating it if needed) a work directory for these inputs. One that holds results of
   * other inputs is refused with the first difference named; nothing in it is changed then.
   */
  static async open(dir: string, inputs: WorkInputs): Promise<WorkDir> {
    const file = path.join(dir, 'inputs.json');
    const wd = new WorkDir(dir);
    const text = await readJsonText(dir, file);
    if (text === undefined) {
      try {
        await fs.mkdir(dir, { recursive: true });
      } catch (e) {
        throw new ConversionError('WRITE', `--work-dir ${dir}: cannot create it (${(e as Error).message})`, dir);
      }
      const stray = (await fs.readdir(dir)).filter((n) => !n.startsWith('.'));
      if (stray.length) throw new ConversionError('OPTION', `--work-dir ${dir}: not empty and has no inputs.json (found ${stray[0]}); give an empty or new directory`, dir);
      await wd.write('inputs.json', { format: FORMAT, version: 1, inputs });
      return wd;
    }
    let saved: { format?: unknown; inputs?: unknown };
    try {
      saved = JSON.parse(text) as typeof saved;
    } catch (e) {
      throw new ConversionError('OPTION', `--work-dir ${dir}: ${file} is not valid JSON (${(e as Error).message})`, file);
    }
    if (saved.format !== FORMAT) throw new ConversionError('OPTION', `--work-dir ${dir}: ${file} is not a tfjs-mbq work directory file`, file);
    const diff = firstDifference(saved.inputs, JSON.parse(JSON.stringify(inputs)));
    if (diff) {
      throw new ConversionError('OPTION', `--work-dir ${dir}: it holds results of a conversion with other inputs (${diff}); use a new work directory or the same inputs`, file);
    }
    return wd;
  }

  /** The saved sensitivity, checked by `check` (which throws through `bad`), or undefined. */
  async sensitivity(check: Check<SensitivityResult>): Promise<SensitivityResult | undefined> {
    return this.read('sensitivity.json', check);
  }

  async saveSensitivity(r: SensitivityResult): Promise<void> {
    await this.write('sensitivity.json', r);
  }

  /** The saved records of block `index`, or undefined if that block did not finish. */
  async block(index: number, check: Check<GroupRecord[]>): Promise<GroupRecord[] | undefined> {
    return this.read(blockFile(index), check);
  }

  async saveBlock(index: number, records: GroupRecord[]): Promise<void> {
    await this.write(blockFile(index), records);
  }

  private async read<T>(name: string, check: Check<T>): Promise<T | undefined> {
    const file = path.join(this.dir, name);
    const text = await readJsonText(this.dir, file);
    if (text === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new ConversionError('OPTION', `--work-dir ${this.dir}: ${file} is not valid JSON (${(e as Error).message}); remove it to search that part again`, file);
    }
    return check(value, (msg) => { throw new ConversionError('OPTION', `--work-dir ${this.dir}: ${file}${msg.startsWith('[') ? '' : ' '}${msg}; remove it to search that part again`, file); });
  }

  private async write(name: string, value: unknown): Promise<void> {
    const file = path.join(this.dir, name);
    // JSON numbers round-trip doubles exactly, so saved scales and ratios come back bit for bit.
    await replaceFile(file, JSON.stringify(value), file);
  }
}

/** Checks a saved value read back (throwing through `bad`, which names the file) and returns it typed. */
export type Check<T> = (value: unknown, bad: (msg: string) => never) => T;

/**
 * The text of a work directory file, or undefined when there is none: a regular file of bounded
 * size only (a FIFO put there would block the conversion, /dev/zero fill memory).
 */
async function readJsonText(dir: string, file: string): Promise<string | undefined> {
  try {
    return new TextDecoder().decode(await readRegularFile(file, MAX_JSON_BYTES));
  } catch (e) {
    if (e instanceof SourceReadError && e.problem === 'not-found') return undefined;
    throw new ConversionError('OPTION', `--work-dir ${dir}: ${(e as Error).message}`, file);
  }
}

function blockFile(index: number): string {
  return `block-${String(index).padStart(4, '0')}.json`;
}
