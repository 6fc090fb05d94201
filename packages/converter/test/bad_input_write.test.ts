/**
 * Issue 6 §1, write errors: a full (ENOSPC) or read-only (EROFS) output location, simulated by
 * failing file operations of the output directory (tests run as root here, where chmod guards
 * nothing, and mounting a tiny tmpfs needs privileges). Each gives a ConversionError naming the
 * file and the problem, leaves no output and no temporary sibling, and leaves the input as it was.
 */
import { createHash } from 'node:crypto';
import { promises as fs, mkdtempSync, readdirSync, readFileSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { convert, ConversionError, type ConvertOptions } from '@tfjs-mbq/converter';
import type { OutputFs } from '../src/io/atomic.js';
import { writeSyntheticModel } from './helpers/synthetic.js';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');
let model: string;
const roots: string[] = [];

beforeAll(async () => {
  await initBackend('cpu');
  model = await writeSyntheticModel({ layers: 1, seed: 43 });
});
afterAll(() => { for (const d of [model, ...roots]) if (d) rmSync(d, { recursive: true, force: true }); });

function hashDir(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) {
    h.update(f);
    if (statSync(join(dir, f)).isFile()) h.update(readFileSync(join(dir, f)));
  }
  return h.digest('hex');
}

function errno(code: string, syscall: string, file: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: simulated, ${syscall} '${file}'`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  return e;
}

/** node:fs with `op` failing with `code` from its `nth` call on (1-based; with `once`, only that call); counts the calls. */
function failing(op: 'writeFile' | 'mkdir' | 'rename', code: string, nth = 1, once = false): OutputFs & { calls: number } {
  const f = { ...fs, calls: 0 } as OutputFs & { calls: number };
  const real = fs[op] as (...a: unknown[]) => Promise<unknown>;
  (f as unknown as Record<string, unknown>)[op] = async (...args: unknown[]) => {
    f.calls++;
    if (once ? f.calls === nth : f.calls >= nth) throw errno(code, op, String(args[0]));
    return real(...args);
  };
  return f;
}

function outPath(): { parent: string; out: string } {
  const parent = mkdtempSync(join(tmpdir(), 'mbq-wr-'));
  roots.push(parent);
  return { parent, out: join(parent, 'q') };
}

const opts = (out: string, outputFs?: OutputFs): ConvertOptions => ({ modelDir: model, calibDir: CALIB, outDir: out, samples: 2, seed: 1, gridSize: 2, method: 'rtn', wBits: 4, outputFs, backend: 'current' });

async function expectWriteError(run: Promise<unknown>, message: RegExp): Promise<ConversionError> {
  const err = await run.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConversionError);
  const ce = err as ConversionError;
  expect(ce.code).toBe('WRITE');
  expect(ce.message).toMatch(message);
  return ce;
}

test.each([
  ['the first file (a weight shard)', 1],
  ['a later file (after the shard and model.json)', 3],
])('a full disk while writing %s: "no space left on device", names the file, leaves nothing', async (_what, nth) => {
  const before = hashDir(model);
  const { parent, out } = outPath();
  const ofs = failing('writeFile', 'ENOSPC', nth);
  const e = await expectWriteError(convert(opts(out, ofs)), /: cannot write output \(no space left on device\)$/);
  expect(ofs.calls).toBe(nth);
  expect(e.file!.startsWith(`${out}/`)).toBe(true); // the output file it was writing
  expect(e.message.startsWith(e.file!)).toBe(true);
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(parent)).toEqual([]); // the partial temporary directory is gone too
  expect(hashDir(model)).toBe(before);
});

test('a read-only file system: "read-only file system", names the location, leaves nothing', async () => {
  const before = hashDir(model);
  const { parent, out } = outPath();
  // Call 1 makes sure the (existing) parent exists, call 2 makes the temporary directory.
  const e = await expectWriteError(convert(opts(out, failing('mkdir', 'EROFS', 2))), /: cannot write output \(read-only file system\)$/);
  expect(e.file).toBe(parent);
  expect(readdirSync(parent)).toEqual([]);
  expect(hashDir(model)).toBe(before);
});

test('a location without write permission: "permission denied", leaves nothing', async () => {
  const { parent, out } = outPath();
  await expectWriteError(convert(opts(out, failing('writeFile', 'EACCES'))), /cannot write output \(permission denied/);
  expect(readdirSync(parent)).toEqual([]);
});

test('a failed rename while swapping into an existing output puts back every file it had replaced', async () => {
  const { parent, out } = outPath();
  await convert(opts(out));
  const ours = readdirSync(out).sort(); // moved aside one by one, then the new ones moved in
  const files = ours.length;
  writeFileSync(join(out, 'notes.txt'), 'keep me');
  const previous = hashDir(out);
  // The second move-in (after all moves aside) fails: the first is undone and the old files go back.
  await expectWriteError(convert({ ...opts(out, failing('rename', 'EIO', files + 2, true)), seed: 2, overwrite: true }), new RegExp(`^${out}: cannot write output`));
  expect(readdirSync(parent)).toEqual(['q']);
  expect(hashDir(out)).toBe(previous);
  // If putting them back fails as well, the error says where the replaced files are.
  const e = await expectWriteError(convert({ ...opts(out, failing('rename', 'EIO', files + 2)), seed: 2, overwrite: true }), /could not all be put back and are kept in .*\.tfjs-mbq\.tmp-\w+\.replaced$/);
  const kept = /kept in (\S+\.replaced)$/.exec(e.message)![1];
  expect(readdirSync(kept).sort()).toEqual(ours);
  expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('keep me');
}, 60_000);
