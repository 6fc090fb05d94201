/**
 * Issue 15 §1 / issue 14 §2: the output directory. A non-empty --out (a user's files, or an
 * earlier conversion) is refused unless `overwrite`; with it only the files a conversion writes
 * (and the shards a previous conversion's model.json lists) are replaced, every other file is
 * kept. Directories are made with the user's umask, not 0700.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { AtomicOutputDir, convert, ConversionError, type ConvertOptions } from '@tfjs-mbq/converter';
import { writeSyntheticModel } from './helpers/synthetic.js';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');
const OURS = ['config.json', 'group1-shard1of1.bin', 'mbq.json', 'model.json', 'quantization.json', 'report.html', 'tokenizer.json'];
let model: string;
const roots: string[] = [];

beforeAll(async () => {
  await initBackend('cpu');
  model = await writeSyntheticModel({ layers: 1, seed: 71 });
});
afterAll(() => { for (const d of [model, ...roots]) if (d) rmSync(d, { recursive: true, force: true }); });

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'mbq-outdir-'));
  roots.push(d);
  return d;
}

function hashTree(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) {
    h.update(f);
    const p = join(dir, f);
    h.update(statSync(p).isFile() ? readFileSync(p) : hashTree(p));
  }
  return h.digest('hex');
}

const opts = (outDir: string, extra: Partial<ConvertOptions> = {}): ConvertOptions =>
  ({ modelDir: model, calibDir: CALIB, outDir, samples: 2, seed: 1, method: 'rtn', wBits: 4, backend: 'current', ...extra });

async function refusal(run: Promise<unknown>): Promise<ConversionError> {
  const e = await run.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(ConversionError);
  return e as ConversionError;
}

test.each([
  ['a user directory of notes', { 'notes.txt': 'keep me' }],
  ['a user directory that looks like an earlier conversion', { 'quantization.json': '{}', 'thesis.tex': 'years of work' }],
])('%s is refused without overwrite, before any work, and left as it was', async (_name, files) => {
  const out = scratch();
  for (const [f, text] of Object.entries(files)) writeFileSync(join(out, f), text);
  const before = hashTree(out);
  const events: string[] = [];
  const e = await refusal(convert({ ...opts(out), onProgress: (p) => events.push(p.stage) }));
  expect(e.code).toBe('OUTPUT_PATH');
  expect(e.message).toMatch(new RegExp(`^output path ${out} is not empty \\(.+\\); .*give --overwrite`));
  expect(events).toEqual([]); // refused before loading anything
  expect(hashTree(out)).toBe(before);
});

test('re-converting into an earlier conversion needs overwrite; with it, the user files there are kept', async () => {
  const parent = scratch();
  const out = join(parent, 'q');
  await convert(opts(out));
  expect(readdirSync(out).sort()).toEqual(OURS);
  const first = readFileSync(join(out, 'quantization.json'));
  // The user adds files next to the conversion.
  writeFileSync(join(out, 'notes.txt'), 'keep me');
  mkdirSync(join(out, 'plots'));
  writeFileSync(join(out, 'plots', 'loss.svg'), '<svg/>');
  const e = await refusal(convert({ ...opts(out), seed: 2 }));
  expect(e.message).toContain('--overwrite');
  expect(readFileSync(join(out, 'quantization.json')).equals(first)).toBe(true);

  await convert({ ...opts(out), seed: 2, overwrite: true });
  expect(readdirSync(out).sort()).toEqual([...OURS, 'notes.txt', 'plots'].sort());
  expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('keep me');
  expect(readFileSync(join(out, 'plots', 'loss.svg'), 'utf8')).toBe('<svg/>');
  expect(readFileSync(join(out, 'quantization.json')).equals(first)).toBe(false); // replaced by the new one
  expect(readdirSync(parent)).toEqual(['q']); // no temporary directory left
}, 60_000);

test('overwrite removes the shards of a previous conversion that no longer exist, and only those', async () => {
  const out = scratch();
  const ourMeta = { userDefinedMetadata: { mbq: { method: 'rtn' } } };
  // A previous conversion in two shards, next to a user's own shard-named file it does not list.
  writeFileSync(join(out, 'model.json'), JSON.stringify({ ...ourMeta, weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin', '../escape.bin'], weights: [] }] }));
  for (const f of ['group1-shard1of2.bin', 'group1-shard2of2.bin', 'group1-shard9of9.bin']) writeFileSync(join(out, f), f);
  await convert({ ...opts(out), overwrite: true });
  expect(readdirSync(out).sort()).toEqual([...OURS, 'group1-shard9of9.bin'].sort());

  // A model.json the converter did not write (no userDefinedMetadata.mbq): its shards are the user's.
  const other = scratch();
  writeFileSync(join(other, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: [] }] }));
  for (const f of ['group1-shard1of2.bin', 'group1-shard2of2.bin']) writeFileSync(join(other, f), f);
  await convert({ ...opts(other), overwrite: true });
  expect(readdirSync(other).sort()).toEqual([...OURS, 'group1-shard1of2.bin', 'group1-shard2of2.bin'].sort());
}, 60_000);

test('an output path that is a file is refused even with overwrite', async () => {
  const parent = scratch();
  writeFileSync(join(parent, 'q'), 'a file');
  const e = await refusal(convert({ ...opts(join(parent, 'q')), overwrite: true }));
  expect(e.message).toBe(`output path ${join(parent, 'q')} exists and is not a directory`);
  expect(readFileSync(join(parent, 'q'), 'utf8')).toBe('a file');
});

test.each([['022', 0o022], ['027', 0o027]])('output directories and files follow the umask %s (not 0700)', async (_name, umask) => {
  const parent = scratch();
  const old = process.umask(umask);
  try {
    await convert(opts(join(parent, 'a', 'q')));
  } finally {
    process.umask(old);
  }
  expect(statSync(join(parent, 'a')).mode & 0o777).toBe(0o777 & ~umask); // a missing parent is made too
  expect(statSync(join(parent, 'a', 'q')).mode & 0o777).toBe(0o777 & ~umask);
  expect(statSync(join(parent, 'a', 'q', 'model.json')).mode & 0o777).toBe(0o666 & ~umask);
}, 60_000);

test('AtomicOutputDir: files a writer puts into tempDir itself (as the importer does) are moved in too, into an existing directory', async () => {
  for (const existing of [['notes.txt'], []]) {
    const out = scratch();
    for (const f of existing) writeFileSync(join(out, f), 'keep me');
    const dir = await AtomicOutputDir.create(out, { overwrite: true });
    await dir.writeFile('model.json', '{}');
    writeFileSync(join(dir.tempDir, 'group1-shard1of1.bin'), 'shard');
    await dir.commit();
    expect(readdirSync(out).sort()).toEqual(['group1-shard1of1.bin', 'model.json', ...existing].sort());
    expect(readFileSync(join(out, 'group1-shard1of1.bin'), 'utf8')).toBe('shard');
  }
});
