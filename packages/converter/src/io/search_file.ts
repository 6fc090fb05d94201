/**
 * The search result as a file (`--save-search`, `--apply-search`), as llm-awq saves its auto_scale
 * results to apply them later: the sensitivity and every group's chosen scales, with everything
 * they depend on. A conversion given the file applies the scales without searching and writes the
 * same output as the run that searched (byte for byte on the same backend).
 *
 * `{ format: "tfjs-mbq-search", version: 1, backend, inputs, sensitivity, groups }`: `inputs` as in
 * pipeline/inputs.ts (search options, sha256 of model.json and of every weight shard, sha256 of the
 * calibration batch); `groups` as quantization.json lists them. Written under a temporary name and
 * renamed. Read back, every part is checked against this model and these options before any output
 * is written; a mismatch is one line naming the file and the first difference.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { GraphAnalysis } from '../graph/analysis.js';
import type { GroupRecord } from '../emit/quantization_json.js';
import type { SensitivityResult } from '../sensitivity/index.js';
import { MAX_JSON_BYTES } from '@tfjs-mbq/format';
import { readRegularFile } from '@tfjs-mbq/format/node';
import { ConversionError } from './errors.js';
import { replaceFile } from './replace_file.js';
import { firstDifference } from './work_dir.js';

export const SEARCH_FILE_FORMAT = 'tfjs-mbq-search';
export const SEARCH_FILE_VERSION = 1;

/** What a search result depends on (pipeline/inputs.ts makes it). */
export interface SearchInputs {
  options: Record<string, unknown>;
  model: { modelJsonSha256: string; shards: Array<{ path: string; bytes: number; sha256: string }> };
  calibrationSha256: string;
}

export interface SearchFile {
  format: typeof SEARCH_FILE_FORMAT;
  version: typeof SEARCH_FILE_VERSION;
  /** The tfjs backend that searched (information: applying on another backend is allowed, its float rounding may differ). */
  backend: string;
  inputs: SearchInputs;
  /** MBQ's modality sensitivity; null for the other methods. */
  sensitivity: SensitivityResult | null;
  /** One record per scale group, in block and group order. */
  groups: GroupRecord[];
}

/**
 * Refuses a --save-search path that holds anything but an earlier search file (issue 15 §1: a
 * typo'd path must not replace a user's file). Checked before the conversion starts: a search
 * file begins with its format field (JSON.stringify keeps SearchFile's key order).
 */
export async function checkSearchFileTarget(file: string): Promise<void> {
  let st;
  try {
    st = await fs.lstat(file);
  } catch {
    return; // absent: written new
  }
  const bad = (why: string): never => { throw new ConversionError('OPTION', `--save-search ${file}: ${why}; give a new path or an earlier search file`, file); };
  if (!st.isFile()) bad(`is ${st.isDirectory() ? 'a directory' : st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}`);
  const head = `{"format":"${SEARCH_FILE_FORMAT}"`;
  const fh = await fs.open(file, 'r');
  try {
    const buf = new Uint8Array(head.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (new TextDecoder().decode(buf.subarray(0, bytesRead)) !== head) bad('exists and is not a tfjs-mbq search file (it would be replaced)');
  } finally {
    await fh.close();
  }
}

export async function writeSearchFile(file: string, value: SearchFile): Promise<void> {
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
  } catch (e) {
    throw new ConversionError('WRITE', `--save-search ${file}: cannot write (${(e as Error).message})`, file);
  }
  // JSON numbers round-trip doubles exactly, so the scales and ratios come back bit for bit.
  await replaceFile(file, JSON.stringify(value) + '\n', `--save-search ${file}`);
}

/**
 * Reads a search file and checks it against the inputs of this conversion and the analysed graph:
 * the same options, model and calibration; one record per scale group in order, each naming the
 * group's linears, with K positive finite scales; a sensitivity exactly when `mbq`.
 */
export async function readSearchFile(file: string, inputs: SearchInputs, analysis: GraphAnalysis, method: string): Promise<SearchFile> {
  const bad = (msg: string): never => { throw new ConversionError('OPTION', `--apply-search ${file}: ${msg}`, file); };
  let text = '';
  try {
    // A regular file of bounded size only: a FIFO would block the conversion, /dev/zero fill memory.
    text = new TextDecoder().decode(await readRegularFile(file, MAX_JSON_BYTES));
  } catch (e) {
    bad(`cannot read it (${(e as Error).message.replace(`${file}: `, '')})`);
  }
  let v: Record<string, unknown> = {};
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    bad(`not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(v) || v.format !== SEARCH_FILE_FORMAT) bad(`not a tfjs-mbq search file (no "format": "${SEARCH_FILE_FORMAT}")`);
  if (v.version !== SEARCH_FILE_VERSION) bad(`version ${JSON.stringify(v.version)} is not supported (this converter reads version ${SEARCH_FILE_VERSION})`);
  if (typeof v.backend !== 'string') bad('"backend" must be a string');
  const diff = firstDifference(v.inputs, JSON.parse(JSON.stringify(inputs)));
  if (diff) bad(`it holds the search of a conversion with other inputs (inputs.${diff}); search again (--save-search) or give the same model, calibration and options`);
  checkSensitivity(v.sensitivity, analysis, method, bad);
  checkGroups(v.groups, analysis, bad);
  return v as unknown as SearchFile;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isNumArray = (x: unknown, n?: number): x is number[] => Array.isArray(x) && (n === undefined || x.length === n) && x.every(isNum);

export function checkSensitivity(s: unknown, analysis: GraphAnalysis, method: string, bad: (msg: string) => never): void {
  if (method !== 'mbq') {
    if (s !== null) bad(`"sensitivity" must be null for --method ${method}`);
    return;
  }
  const n = analysis.blocks.length;
  if (!isObject(s)) return bad('"sensitivity" must be an object for --method mbq');
  for (const k of ['ratioAttn', 'ratioMlp', 'clampedAttn', 'clampedMlp'] as const) {
    if (!isNumArray(s[k], n)) bad(`sensitivity.${k} must hold ${n} finite numbers (one per block)`);
  }
  for (const k of ['medianAttn', 'medianMlp', 'samples'] as const) if (!isNum(s[k])) bad(`sensitivity.${k} must be a finite number`);
  const blocks = s.blocks;
  if (!Array.isArray(blocks) || blocks.length !== n) return bad(`sensitivity.blocks must hold ${n} entries (one per block)`);
  blocks.forEach((b: unknown, i) => {
    if (!isObject(b) || b.block !== analysis.blocks[i].index) bad(`sensitivity.blocks[${i}].block must be ${analysis.blocks[i].index}`);
    for (const site of ['attn', 'mlp'] as const) {
      const x = (b as Record<string, unknown>)[site];
      if (!isObject(x) || !['gVis', 'gTxt', 'ratio', 'clamped'].every((k) => isNum(x[k]))) {
        bad(`sensitivity.blocks[${i}].${site} must hold finite gVis, gTxt, ratio and clamped`);
      }
    }
  });
}

function checkGroups(groups: unknown, analysis: GraphAnalysis, bad: (msg: string) => never): void {
  const expected = analysis.blocks.flatMap((b) => b.groups.map((g) => ({ block: b.index, g })));
  if (!Array.isArray(groups) || groups.length !== expected.length) {
    return bad(`"groups" must hold ${expected.length} records (one per scale group of this model), found ${Array.isArray(groups) ? groups.length : 'none'}`);
  }
  groups.forEach((r: unknown, i) => checkGroupRecord(r, `groups[${i}]`, expected[i].block, expected[i].g, analysis, bad));
}

/**
 * One block's saved group records (a work directory's block-NNNN.json), checked as a search file's
 * are: a tampered or foreign file is refused before its scales are folded into any weight.
 */
export function checkBlockRecords(records: unknown, block: GraphAnalysis['blocks'][number], analysis: GraphAnalysis, bad: (msg: string) => never): GroupRecord[] {
  if (!Array.isArray(records) || records.length !== block.groups.length) {
    return bad(`must hold ${block.groups.length} records (one per scale group of block ${block.index}), found ${Array.isArray(records) ? records.length : 'none'}`);
  }
  records.forEach((r: unknown, i) => checkGroupRecord(r, `[${i}]`, block.index, block.groups[i], analysis, bad));
  return records as GroupRecord[];
}

function checkGroupRecord(r: unknown, at: string, block: number, g: GraphAnalysis['blocks'][number]['groups'][number], analysis: GraphAnalysis, bad: (msg: string) => never): void {
  if (!isObject(r)) return bad(`${at} must be an object`);
  const labels = g.linears.map((id) => analysis.linears.get(id)!.label);
  if (r.block !== block || r.group !== g.name) bad(`${at} is block ${JSON.stringify(r.block)} group ${JSON.stringify(r.group)}; this model's is block ${block} group ${g.name}`);
  if (!Array.isArray(r.linears) || r.linears.length !== labels.length || labels.some((l, j) => (r.linears as unknown[])[j] !== l)) {
    bad(`${at}.linears must be ${JSON.stringify(labels)}`);
  }
  // The fold kind is checked where the scales are applied (--rotate changes it: pipeline/apply_search.ts).
  if (typeof r.fold !== 'string') bad(`${at}.fold must be a string`);
  const K = analysis.linears.get(g.linears[0])!.K;
  if (!isNumArray(r.scales, K)) return bad(`${at}.scales must hold ${K} finite numbers (K of ${labels[0]})`);
  const nonPositive = r.scales.findIndex((x) => !(x > 0));
  if (nonPositive >= 0) bad(`${at}.scales[${nonPositive}] is ${r.scales[nonPositive]}; scales must be positive`);
  for (const k of ['ratio', 'alpha', 'lossBefore', 'lossAfter'] as const) if (!isNum(r[k])) bad(`${at}.${k} must be a finite number`);
  // A non-finite candidate loss is written as null (JSON), as quantization.json holds it.
  if (!Array.isArray(r.lossCurve) || !r.lossCurve.every((x) => x === null || isNum(x))) bad(`${at}.lossCurve must be an array of numbers`);
  if (r.lossKind !== null && !['mbq-mae', 'mbq-mse', 'uniform-mse'].includes(r.lossKind as string)) bad(`${at}.lossKind must be null, "mbq-mae", "mbq-mse" or "uniform-mse"`);
  const m = r.modalityMse;
  if (m !== null && !(isObject(m) && isNumArray(m.before, 2) && isNumArray(m.after, 2))) bad(`${at}.modalityMse must be null or { before: [v, c], after: [v, c] }`);
}
