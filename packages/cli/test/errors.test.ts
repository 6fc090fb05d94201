/**
 * Issue 6 §1 at the command line: usage errors exit 2, bad input exits 1; both print one clear
 * message (no stack trace) and write nothing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/run_cli.js';

const ROOT = process.cwd();
const CALIB = join(ROOT, 'fixtures/shapes-vqa/calib');
const FIXTURE = join(ROOT, 'fixtures/tiny-vlm');
const roots: string[] = [];
afterAll(() => { for (const d of roots) rmSync(d, { recursive: true, force: true }); });

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'mbq-cli-'));
  roots.push(d);
  return d;
}

// A usage error must stop the command: yargs used to print it and then run the conversion anyway.
test.each([
  ['a mistyped option (--w-bit for --w-bits)', ['convert', FIXTURE, '--calib', CALIB, '--out', 'X', '--w-bit', '4'], /Unknown arguments?: w-bit/],
  ['an unknown option', ['convert', FIXTURE, '--calib', CALIB, '--out', 'X', '--bitz', '3'], /Unknown argument: bitz/],
  ['a missing --calib', ['convert', FIXTURE, '--out', 'X'], /Missing required argument: calib/],
  ['a method that does not exist', ['convert', FIXTURE, '--calib', CALIB, '--out', 'X', '--method', 'gptq'], /Invalid values:[\s\S]*method[\s\S]*gptq/],
])('usage error: %s exits 2 with a usage hint and writes nothing', async (_name, args, message) => {
  const dir = scratch();
  const r = await runCli(args.map((a) => (a === 'X' ? join(dir, 'q') : a)));
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toContain('Run tfjs-mbq --help for usage.');
  expect(readdirSync(dir)).toEqual([]);
});

test('convert: a model directory that does not exist exits 1 naming it, no stack trace', async () => {
  const dir = scratch();
  const r = await runCli(['convert', join(dir, 'nope'), '--calib', CALIB, '--out', join(dir, 'q'), '--backend', 'cpu', '--no-progress']);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`tfjs-mbq convert: ${join(dir, 'nope')}: model directory not found`);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(readdirSync(dir)).toEqual([]);
});

test('eval (the built bin): a question whose image is missing exits 1 naming the image, no stack trace', async () => {
  const bin = join(ROOT, 'packages/cli/dist/bin.js');
  expect(existsSync(bin)).toBe(true); // built by `npm test` (tsc -b) before jest
  const data = scratch();
  writeFileSync(join(data, 'manifest.jsonl'), `${JSON.stringify({ image: 'gone.png', question: 'what color is the circle ?', answer: 'red', type: 'color' })}\n`);
  const child = spawn(process.execPath, [bin, 'eval', FIXTURE, '--data', data, '--backend', 'cpu', '--limit', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += String(d); });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code).toBe(1);
  expect(stderr).toContain(`${join(data, 'gone.png')}: cannot read image (file not found)`);
  expect(stderr).not.toMatch(/\n\s+at /);
});

// Issue 15 §3: inspect reads a model's quantization.json as the loader reads model files.
test.each([
  ['a FIFO', (d: string) => execFileSync('mkfifo', [join(d, 'quantization.json')]), (d: string) => `${d}/quantization.json: is a FIFO, not a regular file`],
  ['a link to /dev/zero', (d: string) => symlinkSync('/dev/zero', join(d, 'quantization.json')), (d: string) => `${d}/quantization.json: resolves outside ${d} (through a symbolic link)`],
])('inspect: %s as quantization.json is one line at once, not a hang or a memory bomb', async (_name, make, message) => {
  const d = join(scratch(), 'm');
  cpSync(FIXTURE, d, { recursive: true });
  make(d);
  const r = await runCli(['inspect', d]);
  // (Node's one-time ExperimentalWarning for jest's VM modules may precede it on stderr.)
  expect([r.code, r.stderr.split('\n').filter((l) => l && !/^\((node:\d+|Use `node)/.test(l)), r.stdout]).toEqual([1, [`tfjs-mbq inspect: ${message(d)}`], '']);
}, 10_000);
