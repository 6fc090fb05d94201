/**
 * Helpers for the fuzz tests (issue 6 §2): file sets held in memory, written to a fresh
 * temporary directory per case, a content snapshot to prove the input was not touched, a time
 * bound per case, and JSON mutations at a path chosen by the fuzzer.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { ConversionError } from '@tfjs-mbq/converter';

/** Relative path -> contents; `null` is a directory, `{ link }` a symbolic link to that target. */
export type FileSet = Map<string, Buffer | null | { link: string }>;

/** Writes `files` into `<fresh parent>/<name>/`, plus `outside` files next to it in the parent. */
export async function writeCase(name: string, files: FileSet, outside: FileSet = new Map()): Promise<{ parent: string; dir: string }> {
  const parent = mkdtempSync(path.join(tmpdir(), 'mbq-fuzz-'));
  const dir = path.join(parent, name);
  await fs.mkdir(dir);
  const put = async (root: string, set: FileSet): Promise<void> => {
    for (const [rel, data] of set) {
      const target = path.join(root, rel);
      await fs.mkdir(path.dirname(target), { recursive: true });
      if (data === null) await fs.mkdir(target, { recursive: true });
      else if (Buffer.isBuffer(data)) await fs.writeFile(target, data);
      else await fs.symlink(data.link, target);
    }
  };
  await put(parent, outside);
  await put(dir, files);
  return { parent, dir };
}

/** Every entry under `root` (recursively, links not followed) with its kind, size, mode and content hash. */
export async function snapshot(root: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = (await fs.readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const full = path.join(d, e.name);
      const rel = path.relative(root, full);
      const st = await fs.lstat(full);
      if (e.isSymbolicLink()) lines.push(`L ${rel} -> ${await fs.readlink(full)}`);
      else if (e.isDirectory()) { lines.push(`D ${rel} ${st.mode}`); await walk(full); }
      else lines.push(`F ${rel} ${st.size} ${st.mode} ${st.mtimeMs} ${createHash('sha256').update(await fs.readFile(full)).digest('hex')}`);
    }
  };
  await walk(root);
  return lines.join('\n');
}

export async function removeCase(parent: string): Promise<void> {
  await fs.rm(parent, { recursive: true, force: true });
}

/** Resolves with the outcome of `p`, or rejects with a 'hang' error after `ms`. */
async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HANG: ${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `load` and checks its outcome: success, or a ConversionError whose message names a file
 * (a path under `parent`, or the option it is about when `allowOption`). Anything else fails the
 * property with a description of the case.
 */
export async function expectSuccessOrTypedError<T>(
  load: () => Promise<T>, parent: string, describeCase: string, opts: { timeoutMs?: number; allowOption?: boolean } = {},
): Promise<{ ok: true; value: T } | { ok: false; error: ConversionError }> {
  try {
    const value = await withTimeout(load(), opts.timeoutMs ?? 10_000, describeCase);
    return { ok: true, value };
  } catch (e) {
    if (!(e instanceof ConversionError)) {
      const err = e as Error;
      throw new Error(`not a ConversionError for ${describeCase}: ${err?.name}: ${err?.message}\n${err?.stack ?? ''}`);
    }
    const namesFile = e.message.includes(parent) || (e.file !== undefined && e.file.startsWith(parent) && e.message.includes(path.basename(e.file)));
    if (!namesFile && !(opts.allowOption && e.code === 'OPTION')) {
      throw new Error(`ConversionError ${e.code} does not name the file for ${describeCase}: ${e.message}`);
    }
    return { ok: false, error: e };
  }
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The value reached by walking `choices` (each picks a child by index modulo the child count). */
function locate(root: Json, choices: readonly number[]): { parent: Json[] | { [k: string]: Json } | null; key: string | number | null } {
  let node: Json = root;
  let parent: Json[] | { [k: string]: Json } | null = null;
  let key: string | number | null = null;
  for (const c of choices) {
    if (Array.isArray(node)) {
      if (node.length === 0) break;
      parent = node; key = c % node.length; node = node[key];
    } else if (node !== null && typeof node === 'object') {
      const keys = Object.keys(node);
      if (keys.length === 0) break;
      parent = node; key = keys[c % keys.length]; node = node[key];
    } else break;
  }
  return { parent, key };
}

export type JsonEdit = { kind: 'delete'; at: number[] } | { kind: 'set'; at: number[]; value: Json };

/** Applies an edit to a deep copy of `root`; an edit at the root replaces the whole value. */
export function applyEdit(root: Json, edit: JsonEdit): Json {
  const copy = JSON.parse(JSON.stringify(root)) as Json;
  const { parent, key } = locate(copy, edit.at);
  if (parent === null || key === null) return edit.kind === 'set' ? edit.value : null;
  if (edit.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key as string];
  } else if (Array.isArray(parent)) parent[key as number] = edit.value;
  else parent[key as string] = edit.value;
  return copy;
}

/** Values that tend to break loaders: wrong types, edge numbers, strings that look like paths. */
export const nastyValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, 2 ** 31, -(2 ** 53), 1e308, '', 'NaN', '-1', '../x', '/etc/passwd', [], {}, [null], [-1], [1e9, 1e9], { size: null }),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

export const jsonEdit: fc.Arbitrary<JsonEdit> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), value: nastyValue }),
);

/** Text-level damage: truncation at a fraction of the length, or a few bytes overwritten. */
export type TextDamage = { kind: 'truncate'; at: number } | { kind: 'flip'; at: number[]; bytes: number[] };

export const textDamage: fc.Arbitrary<TextDamage> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }),
    bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
  }),
);

export function damage(buf: Buffer, d: TextDamage): Buffer {
  if (d.kind === 'truncate') return buf.subarray(0, Math.floor(buf.length * d.at));
  const out = Buffer.from(buf);
  d.at.forEach((f, i) => { if (out.length) out[Math.min(out.length - 1, Math.floor(out.length * f))] = d.bytes[i]; });
  return out;
}

/** fast-check run parameters: a bounded run count; FUZZ_SEED replays a failure, FUZZ_RUNS scales the count. */
export function fuzzParams(runs: number): fc.Parameters<unknown> {
  const scale = Number(process.env.FUZZ_RUNS_SCALE ?? '1');
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  return { numRuns: Math.max(1, Math.round(runs * scale)), ...(seed !== undefined ? { seed } : {}) };
}
