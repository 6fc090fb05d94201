/**
 * Issue 4 §7: the fixture's accuracy after MBQ W3 and MBQ W4A8 (and W4A8 with
 * `--scale-family smoothquant`) must not fall more than 1 point
 * below the figures recorded in docs/results.md ("Regression figures", written by
 * scripts/results from the seed-0 rows). Runs the built CLI exactly as the table's commands do.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertFlags, resultsMatrix } from '../../../scripts/results/matrix.js';

const ROOT = process.cwd();
const BIN = join(ROOT, 'packages/cli/dist/bin.js');
const scratch = mkdtempSync(join(tmpdir(), 'mbq-regression-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Recorded { id: string; limit: number; accuracy: number }

function recordedFigures(): Recorded[] {
  const md = readFileSync(join(ROOT, 'docs/results.md'), 'utf8');
  const section = md.split('### Regression figures')[1];
  if (!section) throw new Error('docs/results.md has no "Regression figures" section');
  const rows = [...section.matchAll(/^\| (\S+) \| (\d+) \| ([\d.]+) \|$/gm)].map((m) => ({ id: m[1], limit: Number(m[2]), accuracy: Number(m[3]) }));
  return rows;
}

/** The flags of a results job id such as mbq-w3-s0, as the results matrix runs it. */
function flagsOf(id: string): string[] {
  const j = resultsMatrix([0, 1, 2]).find((x) => x.id === id);
  if (!j) throw new Error(`job ${id} is not in scripts/results/matrix.ts`);
  return convertFlags(j);
}

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`tfjs-mbq ${args.join(' ')} exited ${r.status}:\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

const figures = recordedFigures();

test('docs/results.md records MBQ W3 and MBQ W4A8 (both scale families)', () => {
  expect(figures.map((f) => f.id).sort()).toEqual(['mbq-sqfam-w4a8-s0', 'mbq-w3-s0', 'mbq-w4a8-s0']);
});

test.each(figures.map((f) => [f.id, f] as const))('%s stays within 1 point of the recorded accuracy', (id, f) => {
  const out = join(scratch, id);
  cli(['convert', 'fixtures/tiny-vlm', '--calib', 'fixtures/shapes-vqa/calib', '--out', out, ...flagsOf(id), '--backend', 'wasm', '--no-progress', '--json']);
  const report = JSON.parse(cli(['eval', out, '--data', 'fixtures/shapes-vqa/eval', '--backend', 'wasm', '--engine', 'executor', '--limit', String(f.limit), '--json'])) as { accuracy: number; questions: number };
  expect(report.questions).toBe(f.limit);
  const accuracy = report.accuracy * 100;
  process.stdout.write(`${id}: ${accuracy.toFixed(2)}% (recorded ${f.accuracy.toFixed(2)}%)\n`);
  expect(accuracy).toBeGreaterThanOrEqual(f.accuracy - 1);
}, 900_000);
