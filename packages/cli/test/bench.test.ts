/**
 * `tfjs-mbq bench`: the report's structure and byte counts (checked against the files), finite
 * positive timings, no tensor left behind, and clear errors on bad input. No timing comparisons:
 * speed is measured by running the command, never asserted in jest.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { CACHE_UNPACKED_WEIGHTS } from '@tfjs-mbq/ops';
import { loadVlm } from '@tfjs-mbq/runtime';
import { Jimp } from 'jimp';
import { runCli } from './helpers/run_cli.js';
import { formatBenchReport, type BenchReport, type BenchStats } from '../src/commands/bench.js';
import { convertFixture, FIXTURE_MODEL } from '../../runtime/test/helpers/convert_fixture.js';

const TOKENS = 4;
const RUNS = 2;
const roots: string[] = [];
afterAll(() => { for (const d of roots) rmSync(d, { recursive: true, force: true }); });

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'mbq-bench-'));
  roots.push(d);
  return d;
}

/** Sum of the shard files model.json lists, read straight from disk. */
function shardBytes(dir: string): number {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { weightsManifest: Array<{ paths: string[] }> };
  return json.weightsManifest.flatMap((g) => g.paths).reduce((s, p) => s + statSync(join(dir, p)).size, 0);
}

function expectTimings(s: BenchStats, samples: number): void {
  expect(s.samples).toHaveLength(samples);
  for (const x of [...s.samples, s.median, s.p90]) {
    expect(Number.isFinite(x)).toBe(true);
    expect(x).toBeGreaterThan(0);
  }
  expect(s.p90).toBeGreaterThanOrEqual(s.median);
}

/** Runs the bench in this process (so tf.memory() is this process's) and parses its JSON. */
async function benchJson(model: string, baseline: string, stderr = '', ...extra: string[]): Promise<BenchReport> {
  const tensors = tf.memory().numTensors;
  const r = await runCli(['bench', model, '--baseline', baseline, '--tokens', String(TOKENS), '--runs', String(RUNS), '--warmup', '1', '--backend', 'wasm', '--json', ...extra]);
  expect(r.stderr).toBe(stderr);
  expect(r.code).toBe(0);
  expect(tf.memory().numTensors).toBe(tensors);
  return JSON.parse(r.stdout) as BenchReport;
}

function expectModel(report: BenchReport, index: number, dir: string): void {
  const m = report.models[index]!;
  expect(m.role).toBe(index === 0 ? 'model' : 'baseline');
  expect(m.dir).toBe(dir);
  expect(m.weightBytes).toBe(shardBytes(dir));
  expect(m.memoryBytes).toBeGreaterThan(0);
  expect(m.decoding).toBe('kv-cache');
  expect(m.tokenIds).toHaveLength(TOKENS + 1);
  expect(m.tokenIds.every((t) => Number.isInteger(t) && t >= 0)).toBe(true);
  expectTimings(m.loadMs, RUNS);
  expectTimings(m.prefillMs, RUNS);
  expectTimings(m.decodeMsPerToken, RUNS * TOKENS);
  expectTimings(m.tokensPerSecond, RUNS);
}

beforeAll(async () => {
  await initBackend('wasm');
});

test('bench: the float fixture against itself (wasm, --json): structure, bytes from the files, ratio 1 for bytes, forced tokens = greedy ones up to EOS, no tensor leak', async () => {
  const report = await benchJson(FIXTURE_MODEL, FIXTURE_MODEL);
  expect(report.backend).toBe('wasm');
  expect(report.baselineFrom).toBe('option');
  expect([report.tokens, report.runs, report.warmup]).toEqual([TOKENS, RUNS, 1]);
  expect(report.image).toMatch(/fixtures\/shapes-vqa\/eval\/.+\.png$/);
  expect(report.question.length).toBeGreaterThan(0);
  expect(report.models).toHaveLength(2);
  expectModel(report, 0, FIXTURE_MODEL);
  expectModel(report, 1, FIXTURE_MODEL);
  // Same model, same input, forced decode: the same tokens and the same tensor bytes.
  expect(report.models[0]!.tokenIds).toEqual(report.models[1]!.tokenIds);
  expect(report.models[0]!.memoryBytes).toBe(report.models[1]!.memoryBytes);
  expect(report.ratio!.weightBytes).toBe(1);
  expect(report.ratio!.memoryBytes).toBe(1);
  expect(report.models.map((m) => [m.graph, m.fusedNodes])).toEqual([['unfused', 0], ['unfused', 0]]);
  expect([report.sameGraphs, report.baselineMade]).toEqual([true, null]);
  for (const v of Object.values(report.ratio!)) expect(Number.isFinite(v) && v > 0).toBe(true);
  expect(report.tensors.leaked).toBe(0);
  // The forced decode is greedy decoding: up to EOS its tokens are generate()'s.
  const vlm = await loadVlm(FIXTURE_MODEL, { backend: 'current' });
  const gen = await vlm.generate(await Jimp.read(report.image), report.question, { maxNewTokens: TOKENS + 1 });
  vlm.dispose();
  const forced = report.models[0]!.tokenIds;
  expect(forced.slice(0, gen.tokenIds.length)).toEqual(gen.tokenIds);
  if (gen.stoppedAtEos) expect(forced[gen.tokenIds.length]).toBe(vlm.config.eosTokenId);
  expect(report.models[0]!.promptLength).toBe(gen.promptLength);
  const text = formatBenchReport(report);
  expect(text).toMatch(/^decode \(ms\/token, median\)\s+[\d.]+\s+[\d.]+\s+[\d.]+$/m);
  expect(text).toContain(`${TOKENS} decode steps per run`);
});

test('bench: a W4 conversion against the float fixture: weight bytes as the files say, clearly smaller than float', async () => {
  const out = join(scratch(), 'w4');
  await convertFixture(out, { wBits: 4, samples: 4 });
  // --no-match-graphs: the plain fixture as it is against the fused model, said in the JSON and the table.
  const report = await benchJson(out, FIXTURE_MODEL, 'tfjs-mbq bench: warning: the model\'s graph is fused but the baseline\'s unfused: the ratios mix op fusion with the weights\n', '--no-match-graphs');
  expectModel(report, 0, out);
  expectModel(report, 1, FIXTURE_MODEL);
  expect(report.models.map((m) => m.graph)).toEqual(['fused', 'unfused']);
  expect(report.models[0]!.fusedNodes).toBeGreaterThan(0);
  expect([report.sameGraphs, report.baselineMade]).toEqual([false, null]);
  expect(formatBenchReport(report)).toMatch(/^model: .*\(fused graph, kv-cache\)\nbaseline: .*\(unfused graph, kv-cache\)\ngraphs differ \(fused vs unfused\)/m);
  const [w4, float] = [shardBytes(out), shardBytes(FIXTURE_MODEL)];
  expect(report.ratio!.weightBytes).toBeCloseTo(w4 / float, 12);
  // The quantized linears held K*N float32 values; at 4 bits (plus group scales) at least half of that must be gone.
  const quant = JSON.parse(readFileSync(join(out, 'quantization.json'), 'utf8')) as { linears: Array<{ K: number; N: number; bits: number }> };
  expect(quant.linears.every((l) => l.bits === 4)).toBe(true);
  const floatLinearBytes = quant.linears.reduce((s, l) => s + l.K * l.N * 4, 0);
  expect(w4).toBeLessThan(float - 0.5 * floatLinearBytes);
  expect(report.models[0]!.memoryBytes).toBeLessThan(report.models[1]!.memoryBytes);
  expect(report.tensors.leaked).toBe(0);
  // Without --baseline, the source model the converter recorded in quantization.json is the baseline,
  // run as a fused copy (the model is fused): the same ops, the same float model (its tokens).
  const d = await runCli(['bench', out, '--tokens', String(TOKENS), '--runs', '1', '--warmup', '0', '--backend', 'wasm', '--json']);
  expect(d.code).toBe(0);
  expect(d.stderr).toBe(`tfjs-mbq bench: fusing the float baseline ${FIXTURE_MODEL} into a scratch copy, as the model is fused (--no-match-graphs: as it is)\n`);
  const byDefault = JSON.parse(d.stdout) as BenchReport;
  expect(byDefault.baselineFrom).toBe('quantization.json');
  expect(byDefault.models.map((m) => [m.role, m.dir, m.graph])).toEqual([['model', out, 'fused'], ['baseline', FIXTURE_MODEL, 'fused']]);
  expect(byDefault.models[1]!.fusedNodes).toBe(byDefault.models[0]!.fusedNodes);
  expect([byDefault.sameGraphs, byDefault.baselineMade]).toEqual([true, 'fuse']);
  expect(byDefault.models[1]!.tokenIds).toEqual(report.models[1]!.tokenIds);
  // The fused copy's weights: the same values regrouped, plus a few slice bounds.
  expect(byDefault.ratio!.weightBytes).toBeCloseTo(w4 / float, 2);
  expect(formatBenchReport(byDefault)).toMatch(/^baseline: .*\(fused graph made for the run, kv-cache, from quantization.json\)$/m);
  expect(byDefault.cacheUnpackedWeights).toBe(false);
  // --cache-unpacked-weights changes where the dequantized weights live, not one decoded token.
  const c = await runCli(['bench', out, '--tokens', String(TOKENS), '--runs', '1', '--warmup', '0', '--backend', 'wasm', '--json', '--cache-unpacked-weights']);
  expect(c.code).toBe(0);
  const cached = JSON.parse(c.stdout) as BenchReport;
  expect(cached.cacheUnpackedWeights).toBe(true);
  expect(cached.models[0]!.tokenIds).toEqual(report.models[0]!.tokenIds);
  expect(cached.tensors.leaked).toBe(0);
  expect(tf.env().getBool(CACHE_UNPACKED_WEIGHTS)).toBe(true);
  tf.env().set(CACHE_UNPACKED_WEIGHTS, false);
}, 240_000);

test('bench: without a baseline (none given, none recorded) benches the one model, ratio null', async () => {
  const r = await runCli(['bench', FIXTURE_MODEL, '--tokens', '1', '--runs', '1', '--warmup', '0', '--backend', 'wasm', '--json']);
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout) as BenchReport;
  expect(report.baselineFrom).toBeNull();
  expect(report.ratio).toBeNull();
  expect(report.models.map((m) => m.role)).toEqual(['model']);
  expect(report.models[0]!.decodeMsPerToken.samples).toHaveLength(1);
  expect(report.tensors.leaked).toBe(0);
  expect(formatBenchReport(report)).toContain('baseline: none');
});

test('bench: a model directory that does not exist exits 1 naming it, no stack trace, no tensors', async () => {
  const missing = join(scratch(), 'nope');
  const tensors = tf.memory().numTensors;
  const r = await runCli(['bench', missing, '--backend', 'wasm']);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`tfjs-mbq bench: ${missing}: model directory not found\n`);
  expect(r.stdout).toBe('');
  expect(tf.memory().numTensors).toBe(tensors);
});

test.each([
  ['a missing baseline', (d: string) => ['--baseline', join(d, 'float')], (d: string) => `${join(d, 'float')}: model directory not found`],
  ['an image that does not exist', (d: string) => ['--image', join(d, 'gone.png'), '--question', 'what color ?'], (d: string) => `${join(d, 'gone.png')}: cannot read image (file not found)`],
])('bench: %s exits 1 naming the file', async (_name, extra, message) => {
  const d = scratch();
  const r = await runCli(['bench', FIXTURE_MODEL, '--backend', 'wasm', ...extra(d)]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`tfjs-mbq bench: ${message(d)}\n`);
});

test.each([['--tokens', '0'], ['--runs', '1.5']])('bench: %s %s exits 1 naming the option, before loading anything', async (option, value) => {
  const r = await runCli(['bench', FIXTURE_MODEL, option, value]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`tfjs-mbq bench: ${option} must be an integer >= 1, got ${value}\n`);
});

// Issue 15 §2-3: bench reads a model directory's JSON and sizes its shards as the loader does
// (inside the directory, regular files, bounded): a FIFO no longer hangs it, /dev/zero no longer
// fills memory, and a shard path out of the directory tells nothing about the file there.
test.each([
  ['a FIFO as quantization.json', (d: string) => { execFileSync('mkfifo', [join(d, 'quantization.json')]); }, (d: string) => `${d}/quantization.json: is a FIFO, not a regular file`],
  ['model.json linked to /dev/zero', (d: string) => { rmSync(join(d, 'model.json')); symlinkSync('/dev/zero', join(d, 'model.json')); }, (d: string) => `${d}/model.json: resolves outside ${d} (through a symbolic link)`],
  ['a shard path climbing out', (d: string) => {
    const f = join(d, 'model.json');
    const m = JSON.parse(readFileSync(f, 'utf8')) as { weightsManifest: Array<{ paths: string[] }> };
    m.weightsManifest[0]!.paths.push('../../../../etc/passwd');
    writeFileSync(f, JSON.stringify(m));
  }, (d: string) => `/etc/passwd: the path '../../../../etc/passwd' climbs out with '..'; files must stay inside ${d}`],
])('bench: %s exits 1 at once naming the file', async (_name, damage, message) => {
  const d = join(scratch(), 'm');
  cpSync(FIXTURE_MODEL, d, { recursive: true });
  damage(d);
  const r = await runCli(['bench', d, '--backend', 'wasm']);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`tfjs-mbq bench: ${message(d)}\n`);
  expect(r.stdout).toBe('');
}, 10_000);
