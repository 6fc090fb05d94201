/**
 * Issue 15 §3: SIGTERM / SIGINT end `tfjs-mbq convert` within 5 s whatever it is doing, also in
 * the middle of one long synchronous chunk of compute, where no signal handler of the converting
 * thread can run: exit status 128 + the signal, one line on stderr, the temporary output (and an
 * import's scratch copy, and spilled weights) removed, the user's files as they were.
 * The CLI converts in a worker thread (src/worker/supervise.ts). MBQ_TEST_BLOCK_MS makes the first
 * progress event of stage MBQ_TEST_BLOCK_STAGE spin synchronously for that long (a minute here;
 * src/commands/convert_run.ts). Runs the built CLI (dist/bin.js, built by `npm test` / `tsc -b`
 * before jest): the worker thread starts from it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = process.cwd();
const BIN = join(ROOT, 'packages/cli/dist/bin.js');
const CALIB = join(ROOT, 'fixtures/shapes-vqa/calib');
const BOUND_MS = 5_000;

const roots: string[] = [];
afterAll(() => { for (const d of roots) rmSync(d, { recursive: true, force: true }); });

beforeAll(() => { expect(existsSync(BIN)).toBe(true); });

function hashDir(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)));
  return h.digest('hex');
}

interface Interrupted { status: number | null; signal: string | null; stderr: string; stageLine: string; afterSignalMs: number }

/** Runs the CLI, sends `signal` once stage `stage` has started (and blocks), and waits for the end. */
function interrupt(args: string[], stage: string, signal: NodeJS.Signals, tmp: string): Promise<Interrupted> {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MBQ_TEST_BLOCK_MS: '60000', MBQ_TEST_BLOCK_STAGE: stage, TMPDIR: tmp },
  });
  let stderr = '';
  let sentAt = 0;
  let stageLine = '';
  child.stdout!.resume();
  child.stderr!.on('data', (d) => {
    stderr += String(d);
    const m = new RegExp(`^${stage}: .*$`, 'm').exec(stderr);
    if (!sentAt && m) {
      stageLine = m[0];
      // The worker posts the stage's first progress event and then spins: signal well inside the spin.
      sentAt = Date.now() + 300;
      setTimeout(() => child.kill(signal), 300);
    }
  });
  // The test's own bound: a hang fails the expectations below instead of stalling the suite.
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolve) => child.on('close', (code, sig) => {
    clearTimeout(killer);
    resolve({
      status: code ?? (sig ? 128 + osConstants.signals[sig] : null), signal: sig, stderr, stageLine,
      afterSignalMs: sentAt ? Date.now() - sentAt : -1,
    });
  }));
}

/** A fresh parent directory for the output, and a private TMPDIR (where weights are spilled). */
function dirs(): { parent: string; tmp: string } {
  const root = mkdtempSync(join(tmpdir(), 'mbq-interrupt-'));
  roots.push(root);
  const parent = join(root, 'parent');
  const tmp = join(root, 'tmp');
  mkdirSync(parent);
  mkdirSync(tmp);
  return { parent, tmp };
}

/** stderr from the blocked stage's line on: the stage line, then exactly one (non-empty) line. */
function linesAfterStage(r: Interrupted): string[] {
  expect(r.stageLine).not.toBe('');
  return r.stderr.slice(r.stderr.indexOf(r.stageLine) + r.stageLine.length).split('\n').filter((l) => l.trim() !== '');
}

test.each([['SIGTERM', 143]] as const)('%s inside a minute-long synchronous chunk of the search: exit %d within 5 s, one line, no output left', async (signal, status) => {
  const { parent, tmp } = dirs();
  const out = join(parent, 'q');
  const r = await interrupt(['convert', 'fixtures/tiny-vlm', '--calib', CALIB, '--out', out, '--method', 'awq', '--samples', '2', '--backend', 'cpu'], 'search', signal, tmp);
  expect(r.afterSignalMs).toBeGreaterThan(0);
  expect(r.afterSignalMs).toBeLessThan(BOUND_MS);
  expect(r.signal).toBe(signal);
  expect(r.status).toBe(status);
  const lines = linesAfterStage(r);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^tfjs-mbq: interrupted by ${signal}; removed the partial output ${join(parent, '.q.tmp-')}[0-9a-f]{12}, nothing was written to ${out}$`));
  expect(readdirSync(parent)).toEqual([]);
  expect(readdirSync(tmp)).toEqual([]);
}, 90_000);

test('SIGINT while a Hugging Face checkpoint is imported for --overwrite: exit 130, the scratch copy removed, the user\'s directory as it was', async () => {
  const { parent, tmp } = dirs();
  const out = join(parent, 'q');
  mkdirSync(out);
  writeFileSync(join(out, 'notes.txt'), 'the user\'s file\n');
  writeFileSync(join(out, 'model.json'), '{"not": "a conversion"}\n');
  const before = hashDir(out);
  const r = await interrupt(['convert', 'fixtures/hf/llava-1.5-tiny', '--calib', CALIB, '--out', out, '--overwrite', '--samples', '2', '--backend', 'cpu'], 'import', 'SIGINT', tmp);
  expect(r.afterSignalMs).toBeGreaterThan(0);
  expect(r.afterSignalMs).toBeLessThan(BOUND_MS);
  expect(r.status).toBe(130);
  expect(linesAfterStage(r)).toEqual([`tfjs-mbq: interrupted by SIGINT; no partial output of ${out} was on disk, nothing left behind`]);
  expect(readdirSync(parent)).toEqual(['q']);
  expect(hashDir(out)).toBe(before);
  expect(readdirSync(tmp)).toEqual([]);
}, 90_000);

test('SIGTERM while the output is written into an existing directory (--overwrite, wasm): the staging and the spilled weights removed, the user\'s files as they were', async () => {
  const { parent, tmp } = dirs();
  const out = join(parent, 'q');
  mkdirSync(out);
  writeFileSync(join(out, 'notes.txt'), 'the user\'s file\n');
  const before = hashDir(out);
  const r = await interrupt(['convert', 'fixtures/tiny-vlm', '--calib', CALIB, '--out', out, '--overwrite', '--method', 'rtn', '--w-bits', '4', '--samples', '2', '--backend', 'wasm'], 'emit', 'SIGTERM', tmp);
  expect(r.afterSignalMs).toBeGreaterThan(0);
  expect(r.afterSignalMs).toBeLessThan(BOUND_MS);
  expect(r.status).toBe(143);
  expect(linesAfterStage(r)).toEqual([expect.stringMatching(new RegExp(`^tfjs-mbq: interrupted by SIGTERM; removed the partial output ${join(out, '.tfjs-mbq.tmp-')}[0-9a-f]{12}, nothing was written to ${out}$`))]);
  expect(readdirSync(parent)).toEqual(['q']);
  expect(hashDir(out)).toBe(before);
  expect(readdirSync(tmp)).toEqual([]);
}, 90_000);
