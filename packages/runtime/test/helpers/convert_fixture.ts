/**
 * A converted model for runtime and example tests: fixtures/tiny-vlm through the converter itself,
 * as a user runs it: `tfjs-mbq convert` (the built CLI, packages/cli/dist; `npm test` builds first),
 * MBQ with 4 calibration samples of fixtures/shapes-vqa/calib, on wasm (about 15 s; in-process
 * under jest the same conversion takes twice as long).
 * Nothing here depends on the fixture's current weights: tests derive expected answers at run time.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const FIXTURE_MODEL = join(ROOT, 'fixtures/tiny-vlm');
export const FIXTURE_CALIB = join(ROOT, 'fixtures/shapes-vqa/calib');
export const FIXTURE_EVAL = join(ROOT, 'fixtures/shapes-vqa/eval');
const CLI = join(ROOT, 'packages/cli/dist/bin.js');

export interface ConvertedFixture {
  dir: string;
  wBits: number;
  /** Number of MbqQuantizedMatMul nodes in the written model.json. */
  quantizedNodes: number;
}

/** Converts the fixture VLM into `outDir` (which must not exist yet) and checks it holds quantized nodes. */
export async function convertFixture(outDir: string, opts: { wBits?: 3 | 4; samples?: number; seed?: number } = {}): Promise<ConvertedFixture> {
  const wBits = opts.wBits ?? 4;
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the workspace first (npx tsc -b)`);
  const args = [CLI, 'convert', FIXTURE_MODEL, '--calib', FIXTURE_CALIB, '--out', outDir, '--method', 'mbq', '--w-bits', String(wBits),
    '--samples', String(opts.samples ?? 4), '--seed', String(opts.seed ?? 0), '--backend', 'wasm', '--no-progress'];
  await promisify(execFile)(process.execPath, args, { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, timeout: 170_000 }).catch((e: Error & { stderr?: string }) => {
    throw new Error(`tfjs-mbq convert of ${FIXTURE_MODEL} failed: ${e.message}\n${e.stderr ?? ''}`);
  });
  const modelJson = JSON.parse(await readFile(join(outDir, 'model.json'), 'utf8')) as { modelTopology: { node: Array<{ op: string; attr?: { bits?: { i?: string } } }> } };
  const quantized = modelJson.modelTopology.node.filter((n) => n.op === 'MbqQuantizedMatMul');
  if (quantized.length === 0) throw new Error(`${outDir}/model.json: the converter wrote no MbqQuantizedMatMul node`);
  const otherBits = quantized.find((n) => Number(n.attr?.bits?.i) !== wBits);
  if (otherBits) throw new Error(`${outDir}/model.json: a quantized node has bits=${String(otherBits.attr?.bits?.i)}, expected ${wBits}`);
  return { dir: outDir, wBits, quantizedNodes: quantized.length };
}

export interface EvalItem { image: string; question: string; answer: string; type: string }

/** `n` questions of the shapes-vqa eval manifest, each about another image, at most `perType` of each question type. */
export async function evalQuestions(n: number, perType = 1): Promise<EvalItem[]> {
  const all = (await readFile(join(FIXTURE_EVAL, 'manifest.jsonl'), 'utf8')).trim().split('\n')
    .map((l) => JSON.parse(l) as Partial<EvalItem>)
    .filter((x): x is EvalItem => typeof x.question === 'string' && typeof x.image === 'string');
  const perTypeCount = new Map<string, number>();
  const images = new Set<string>();
  const out: EvalItem[] = [];
  for (const it of all) {
    const c = perTypeCount.get(it.type) ?? 0;
    if (c >= perType || images.has(it.image)) continue;
    perTypeCount.set(it.type, c + 1);
    images.add(it.image);
    out.push(it);
    if (out.length === n) break;
  }
  if (out.length < n) throw new Error(`${FIXTURE_EVAL}/manifest.jsonl: only ${out.length} questions on distinct images (asked for ${n})`);
  return out;
}
