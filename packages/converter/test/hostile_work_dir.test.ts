/**
 * Issue 15 for the files a conversion reads back: a work directory (--work-dir) and a search file
 * (--apply-search). A tampered sensitivity or block file is checked as a search file is, before
 * any saved scale is folded into a weight (negative scales were folded and written before), and a
 * FIFO or /dev/zero put there is refused at once instead of blocking or filling memory.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { convert, ConversionError, type ConvertOptions } from '@tfjs-mbq/converter';

const FIXTURE = join(process.cwd(), 'fixtures/tiny-vlm');
const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');
const BLOCKS = 4;
/** Each case is one conversion that stops at its sensitivity or first search block: 2-9 s on a loaded 2-core box. */
const LIMIT = 20_000;
const root = mkdtempSync(join(tmpdir(), 'mbq-hostile-work-'));
const base = (name: string): ConvertOptions => ({ modelDir: FIXTURE, calibDir: CALIB, outDir: join(root, name), samples: 2, seed: 1, gridSize: 4 });
/** A work directory holding only this conversion's inputs.json (stopped as the sensitivity stage began). */
const fresh = join(root, 'fresh');
let n = 0;

beforeAll(async () => {
  await initBackend('cpu');
  await expect(convert({ ...base('o'), workDir: fresh, onProgress: (e) => { if (e.stage === 'sensitivity') throw new Error('stop'); } })).rejects.toThrow('stop');
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A copy of the fresh work directory with `files` written into it. */
function workDir(files: Record<string, unknown>): string {
  const d = join(root, `work${n++}`);
  cpSync(fresh, d, { recursive: true });
  for (const [name, v] of Object.entries(files)) writeFileSync(join(d, name), JSON.stringify(v));
  return d;
}

/** The message of the ConversionError a conversion with `opts` rejects with; nothing written. */
async function refusal(opts: Partial<ConvertOptions>): Promise<string> {
  const name = `out${n++}`;
  let err: unknown;
  try { await convert({ ...base(name), ...opts }); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(ConversionError);
  expect(() => execFileSync('ls', [join(root, name)], { stdio: 'ignore' })).toThrow();
  return (err as Error).message;
}

const site = { gVis: 1, gTxt: 1, ratio: 1, clamped: 1 };
const sensitivity = {
  ratioAttn: Array(BLOCKS).fill(1), ratioMlp: Array(BLOCKS).fill(1), clampedAttn: Array(BLOCKS).fill(1), clampedMlp: Array(BLOCKS).fill(1),
  medianAttn: 1, medianMlp: 1, samples: 2, blocks: Array.from({ length: BLOCKS }, (_, block) => ({ block, attn: site, mlp: site })),
};
const record = (group: string, linears: string[], fold: string, K: number, scale = 1): Record<string, unknown> => ({
  block: 0, group, linears: linears.map((l) => `layers.0.${l}`), fold, ratio: 1, alpha: 0, lossBefore: 0, lossAfter: 0,
  lossKind: 'mbq-mae', modalityMse: null, lossCurve: [], scales: Array(K).fill(scale),
});
const block0 = (attnScale: number): unknown[] => [
  record('attn-in', ['q_proj', 'k_proj', 'v_proj'], 'gamma', 128, attnScale), record('mlp-in', ['gate_proj', 'up_proj'], 'gamma', 128), record('mlp-out', ['down_proj'], 'linear', 256),
];

test('a tampered sensitivity.json (a ratio missing) is refused naming the file and the field', async () => {
  const work = workDir({ 'sensitivity.json': { ...sensitivity, clampedMlp: [1] } });
  expect(await refusal({ workDir: work })).toBe(`--work-dir ${work}: ${join(work, 'sensitivity.json')} sensitivity.clampedMlp must hold ${BLOCKS} finite numbers (one per block); remove it to search that part again`);
}, LIMIT);

test('a block file with negative scales is refused before they are folded', async () => {
  const work = workDir({ 'sensitivity.json': sensitivity, 'block-0000.json': block0(-1) });
  expect(await refusal({ workDir: work })).toBe(`--work-dir ${work}: ${join(work, 'block-0000.json')}[0].scales[0] is -1; scales must be positive; remove it to search that part again`);
}, LIMIT);

test('a block file of another model (other group names) is refused naming the first difference', async () => {
  const work = workDir({ 'sensitivity.json': sensitivity, 'block-0000.json': block0(1).map((r) => ({ ...(r as object), group: 'qkv' })) });
  expect(await refusal({ workDir: work })).toBe(`--work-dir ${work}: ${join(work, 'block-0000.json')}[0] is block 0 group "qkv"; this model's is block 0 group attn-in; remove it to search that part again`);
}, LIMIT);

test('a FIFO as a block file is refused at once', async () => {
  const fifo = workDir({ 'sensitivity.json': sensitivity });
  execFileSync('mkfifo', [join(fifo, 'block-0000.json')]);
  expect(await refusal({ workDir: fifo })).toBe(`--work-dir ${fifo}: ${join(fifo, 'block-0000.json')}: is a FIFO, not a regular file`);
}, LIMIT);

test('/dev/zero as sensitivity.json is refused at once', async () => {
  const zero = workDir({});
  symlinkSync('/dev/zero', join(zero, 'sensitivity.json'));
  expect(await refusal({ workDir: zero })).toBe(`--work-dir ${zero}: ${join(zero, 'sensitivity.json')}: is a device, not a regular file`);
}, LIMIT);

test('--apply-search given a FIFO or /dev/zero is refused at once', async () => {
  const fifo = join(root, 'search.fifo');
  execFileSync('mkfifo', [fifo]);
  expect(await refusal({ applySearch: fifo })).toBe(`--apply-search ${fifo}: cannot read it (is a FIFO, not a regular file)`);
  expect(await refusal({ applySearch: '/dev/zero' })).toBe('--apply-search /dev/zero: cannot read it (is a device, not a regular file)');
}, LIMIT);

// Issue 15 §1: --save-search replaces only an earlier search file, never a user's file.
test('--save-search naming a user file, a directory or a link is refused before any work; the file is unchanged', async () => {
  const notes = join(root, 'notes.json');
  writeFileSync(notes, '{"mine": true}');
  const link = join(root, 'link.json');
  symlinkSync(notes, link);
  for (const [target, why] of [[notes, 'exists and is not a tfjs-mbq search file (it would be replaced)'], [root, 'is a directory'], [link, 'is a symbolic link']] as const) {
    const t0 = Date.now();
    expect(await refusal({ saveSearch: target })).toBe(`--save-search ${target}: ${why}; give a new path or an earlier search file`);
    expect(Date.now() - t0).toBeLessThan(2000);
  }
  expect(readFileSync(notes, 'utf8')).toBe('{"mine": true}');
}, LIMIT);
