/**
 * Progress on stderr (issue 14 §3): the bars' elapsed time and estimate of the time left (fake TTY
 * and clock), byte amounts, and `tfjs-mbq eval` reporting the model load and the questions and
 * captions as it scores them (captured stderr, not a TTY: one line at the start and end of each stage).
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { estimateLeft, formatBytes, formatDuration, progressBars } from '../src/ui/progress.js';
import { backendLine } from '../src/ui/backend_line.js';
import { runCli } from './helpers/run_cli.js';

const ROOT = process.cwd();
const FIXTURE = join(ROOT, 'fixtures/tiny-vlm');
const EVAL = join(ROOT, 'fixtures/shapes-vqa/eval');

function fakeTty(): { stream: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const stream = { isTTY: true, columns: 200, write: (c: string) => { out += c; return true; } } as unknown as NodeJS.WriteStream;
  return { stream, text: () => out };
}

test('formatting: bytes, durations, the estimate at the average rate so far', () => {
  expect([formatBytes(12), formatBytes(2048), formatBytes(3 * 1024 ** 2 + 512 * 1024), formatBytes(5 * 1024 ** 3)]).toEqual(['12 B', '2 KiB', '3.5 MiB', '5.00 GiB']);
  expect([formatDuration(1234), formatDuration(42_000), formatDuration(185_000), formatDuration(3_720_000)]).toEqual(['1.2s', '42s', '3m05s', '1h02m']);
  expect(estimateLeft(10_000, 2, 10)).toBe(40_000);
  expect(estimateLeft(500, 2, 10)).toBeUndefined(); // too early to tell
  expect(estimateLeft(10_000, 0, 10)).toBeUndefined();
  expect(estimateLeft(10_000, 10, 10)).toBeUndefined();
});

test('a TTY bar shows elapsed time and time left; the stage ends with its duration', () => {
  let t = 0;
  const tty = fakeTty();
  const bars = progressBars(tty.stream, true, { now: () => t });
  bars.update('search', 0, 4);
  t = 30_000;
  bars.update('search', 1, 4, 'block 0');
  expect(tty.text()).toContain('1/4 30s, ~1m30s left  block 0');
  t = 100_000;
  bars.update('search', 4, 4);
  expect(tty.text()).toMatch(/search: done in 1m40s\n$/);
  bars.update('load', 1024 ** 2, 4 * 1024 ** 2, undefined, 'bytes');
  expect(tty.text()).toContain('1.0 MiB/4.0 MiB 0.0s');
});

test('the backend line: what auto skipped is named, why only with --verbose', () => {
  const detail = "auto: WebAssembly (XNNPACK) (skipped tensorflow: backend 'tensorflow' needs @tensorflow/tfjs-node; webgpu: WebGPU: only a software adapter is present (llvmpipe))";
  expect(backendLine({ backend: 'wasm', detail }, false)).toBe('backend: wasm (auto: WebAssembly (XNNPACK); skipped tensorflow, webgpu: --verbose says why)');
  expect(backendLine({ backend: 'wasm', detail }, true)).toBe(`backend: wasm (${detail})`);
  expect(backendLine({ backend: 'cpu', detail: 'plain JavaScript' }, false)).toBe('backend: cpu (plain JavaScript)');
});

test('eval reports the load in bytes and each stage, then the report on stdout', async () => {
  const r = await runCli(['eval', FIXTURE, '--data', EVAL, '--backend', 'cpu', '--limit', '3', '--verbose']);
  expect(r.stderr.split('\n')).toContain('backend: cpu (plain JavaScript)');
  expect(r.code).toBe(0);
  const model = JSON.parse(readFileSync(join(FIXTURE, 'model.json'), 'utf8')) as { weightsManifest: Array<{ paths: string[] }> };
  const bytes = model.weightsManifest.flatMap((g) => g.paths).reduce((a, p) => a + statSync(join(FIXTURE, p)).size, 0);
  // (stderr also holds Node's and tfjs' own warnings in this process)
  const lines = r.stderr.trim().split('\n').filter((l) => /^(load|questions|captions)[: ]/.test(l));
  expect(lines[0]).toBe(`load: ${formatBytes(bytes)}...`);
  expect(lines[1]).toMatch(/^load: done in [\d.]+s$/);
  expect(lines[2]).toBe('questions: 3 steps...');
  expect(lines[3]).toMatch(/^questions: done in [\d.]+s$/);
  expect(lines[4]).toBe('captions: 3 steps...');
  expect(lines[5]).toMatch(/^captions: done in [\d.]+s$/);
  expect(lines.length).toBe(6);
  expect(r.stdout).toMatch(/accuracy [\d.]+% \(3 questions\)/);
  const quiet = await runCli(['eval', FIXTURE, '--data', EVAL, '--backend', 'cpu', '--limit', '1', '--no-progress']);
  expect(quiet.stderr).not.toMatch(/^(load|questions|captions):/m);
});
