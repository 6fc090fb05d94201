/**
 * Issue 15 §6 / issue 14 §4: arguments are checked before any work starts (no backend, no file
 * read or written), each bad one gets one line naming the option and what was given, exit 2 for
 * usage and 1 for a combination the converter refuses; `--version` is tfjs-mbq's own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/run_cli.js';
import { checkArguments, UsageError } from '../src/ui/arguments.js';

const ROOT = process.cwd();
const FIXTURE = join(ROOT, 'fixtures/tiny-vlm');
const CALIB = join(ROOT, 'fixtures/shapes-vqa/calib');
const BIN = join(ROOT, 'packages/cli/bin/tfjs-mbq.js');
const roots: string[] = [];
afterAll(() => { for (const d of roots) rmSync(d, { recursive: true, force: true }); });

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'mbq-args-'));
  roots.push(d);
  return d;
}

const convertArgs = (out: string, ...extra: string[]): string[] => ['convert', FIXTURE, '--calib', CALIB, '--out', out, '--no-progress', ...extra];

test.each([
  ['a number that is not one', ['--w-bits', 'abc'], 2, 'tfjs-mbq: --w-bits must be a number, got "abc"'],
  ['a number with trailing text', ['--samples', '4x'], 2, 'tfjs-mbq: --samples must be a number, got "4x"'],
  ['--out given twice', ['--out', 'OUT2'], 2, 'tfjs-mbq: --out given 2 times (OUT, OUT2); give it once'],
  ['--method given twice', ['--method', 'awq', '--method', 'rtn'], 2, 'tfjs-mbq: --method given 2 times (awq, rtn); give it once'],
  ['--fuse and --no-fuse', ['--fuse', '--no-fuse'], 2, 'tfjs-mbq: --fuse given 2 times (--fuse, --no-fuse); give it once'],
  ['--overwrite given twice', ['--overwrite', '--overwrite=false'], 2, 'tfjs-mbq: --overwrite given 2 times (--overwrite, --overwrite=false); give it once'],
  ['a number option without a value', ['--seed'], 2, 'tfjs-mbq: --seed needs a value'],
  ['a mistyped option', ['--sampels', '4'], 2, 'tfjs-mbq: Unknown argument: sampels (did you mean --samples?)'],
  ['another mistyped option', ['--w-bit', '4'], 2, 'tfjs-mbq: Unknown arguments: w-bit, wBit (did you mean --w-bits?)'],
  ['a non-UTF-8 --out (as Node decodes it)', ['BAD_OUT'], 2, 'tfjs-mbq: --out "OUT\uFFFD" is not valid UTF-8 (its bytes would be replaced by U+FFFD); use a UTF-8 name'],
  ['--a-bits 8 with the default --w-bits 3', ['--a-bits', '8'], 1, 'tfjs-mbq convert: --a-bits 8 with --w-bits 3 (the default): the MbqQuantizedMatMul op cannot run them (actBits=8 (W4A8) needs bits=4, got bits=3); use --w-bits 4 --a-bits 8'],
  ['--a-bits 8 with --w-bits 2', ['--a-bits', '8', '--w-bits', '2'], 1, 'tfjs-mbq convert: --a-bits 8 with --w-bits 2: the MbqQuantizedMatMul op cannot run them'],
  ['--group-size with --a-bits', ['--w-bits', '4', '--a-bits', '8', '--group-size', '32'], 1, 'tfjs-mbq convert: --group-size 32 with --a-bits 8: weight-activation quantization has one weight scale per output channel, not groups; leave out --group-size'],
])('%s: one line naming the option, before any work', async (_name, extra, code, line) => {
  const parent = scratch();
  const out = join(parent, 'q');
  const bad = extra[0] === 'BAD_OUT';
  const args = convertArgs(bad ? `${out}\uFFFD` : out, ...extra.filter((a) => a !== 'BAD_OUT')).map((a) => (a === 'OUT2' ? join(parent, 'p') : a));
  const t0 = Date.now();
  const r = await runCli(args);
  expect(r.code).toBe(code);
  const first = r.stderr.trim().split('\n')[0]!;
  expect(first.startsWith(line.replace('OUT, OUT2', `${out}, ${join(parent, 'p')}`).replace('OUT\uFFFD', `${out}\uFFFD`))).toBe(true);
  expect(r.stderr).not.toMatch(/backend:|\n\s+at /); // no backend started, no stack trace
  expect(r.stdout).toBe('');
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(readdirSync(parent)).toEqual([]);
});

test('eval and bench check their numbers too', async () => {
  const e = await runCli(['eval', FIXTURE, '--data', CALIB, '--limit', 'ten']);
  expect(e.code).toBe(2);
  expect(e.stderr.split('\n')[0]).toBe('tfjs-mbq: --limit must be a number, got "ten"');
  const b = await runCli(['bench', FIXTURE, '--runs', '2', '--runs', '3']);
  expect(b.code).toBe(2);
  expect(b.stderr.split('\n')[0]).toBe('tfjs-mbq: --runs given 2 times (2, 3); give it once');
  const t = await runCli(['eval', FIXTURE, '--data', CALIB, '--limt', '3']);
  expect(t.stderr.split('\n')[0]).toBe('tfjs-mbq: Unknown argument: limt (did you mean --limit?)');
});

test('a real non-UTF-8 byte in --out (the built bin, through bash) is refused and nothing is written', () => {
  const parent = scratch();
  const r = spawnSync('bash', ['-c', `exec "${process.execPath}" "${BIN}" convert "${FIXTURE}" --calib "${CALIB}" --out "${parent}/$(printf 'q\\xff')" --no-progress`], { encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr.split('\n')[0]).toMatch(/^tfjs-mbq: --out ".*q\uFFFD" is not valid UTF-8/);
  expect(readdirSync(parent)).toEqual([]);
});

test('--version prints tfjs-mbq\'s own version, also from inside another app', () => {
  const app = scratch();
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'host-app', version: '9.9.9' }));
  const own = (JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }).version;
  expect(execFileSync(process.execPath, [BIN, '--version'], { cwd: app, encoding: 'utf8' }).trim()).toBe(own);
});

test('the bin npm links is a committed file, so a fresh `npm ci` links it before dist/ exists', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };
  expect(pkg.bin['tfjs-mbq']).toBe('./bin/tfjs-mbq.js');
  expect(pkg.files).toContain('bin');
  const tracked = execFileSync('git', ['ls-files', '-s', 'packages/cli/bin/tfjs-mbq.js'], { cwd: ROOT, encoding: 'utf8' });
  expect(tracked).toMatch(/^100755 /); // executable in git, so the link runs
});

test('checkArguments: an option declared as an array may repeat; a scalar may not', () => {
  expect(() => checkArguments({ include: ['a', 'b'] }, ['--include', 'a', '--include', 'b'], ['include'])).not.toThrow();
  expect(() => checkArguments({ out: ['a', 'b'] }, ['--out', 'a', '--out', 'b'], ['include'])).toThrow(new UsageError('--out given 2 times (a, b); give it once'));
  expect(() => checkArguments({ fuse: false }, ['--no-fuse', '--no-fuse'])).toThrow(new UsageError('--fuse given 2 times (--no-fuse, --no-fuse); give it once'));
  expect(() => checkArguments({ fuse: false, json: true }, ['--no-fuse', '--json', '--', '--json'])).not.toThrow();
});
