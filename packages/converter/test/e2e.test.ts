/**
 * End to end: the CLI on the trained fixture, byte-identical reruns (issue 6 §4), and an
 * interrupted conversion that leaves nothing behind (issue 6 §3).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { convert } from '@tfjs-mbq/converter';
import { runCli } from '../../cli/test/helpers/run_cli.js';
import { writeSyntheticModel } from './helpers/synthetic.js';

const ROOT = process.cwd();
const CALIB = join(ROOT, 'fixtures/shapes-vqa/calib');
const FIXTURE = join(ROOT, 'fixtures/tiny-vlm');

test('tfjs-mbq convert and inspect on the fixture', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'mbq-e2e-')), 'tiny-vlm-mbq-w3');
  const r = await runCli(['convert', FIXTURE, '--calib', CALIB, '--out', out, '--samples', '8', '--backend', 'wasm', '--json']);
  expect(r.stderr).not.toMatch(/Error|tfjs-mbq convert:/);
  expect(r.code).toBe(0);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  expect(res.quantization.method).toBe('mbq');
  expect(res.quantization.wBits).toBe(3);
  expect(res.quantization.groupSize).toBe(128);
  expect(res.quantization.groups).toHaveLength(4 * 3);
  // With the reference's caption positions (docs/algorithm.md §2) this fixture's vision positions are
  // the more sensitive ones in blocks 0-2 (docs/fixture.md); block 3's vision gradient is ~0.
  const ratios = res.quantization.sensitivity.blocks.map((b: { attn: { ratio: number } }) => b.attn.ratio);
  expect(ratios.slice(0, 3).every((r: number) => r > 1)).toBe(true);
  expect(ratios[3]).toBeLessThan(0.01);
  expect(res.quantization.evaluation.top1AgreementCaption).toBeGreaterThan(0.8);
  expect(readdirSync(out).sort()).toEqual(['config.json', 'group1-shard1of1.bin', 'mbq.json', 'model.json', 'quantization.json', 'report.html', 'tokenizer.json']);
  expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('<svg');
  const ins = await runCli(['inspect', out]);
  expect(ins.code).toBe(0);
  // 4 blocks: q/k/v and gate/up merged (emit/fuse.ts), so qkv, o, gate_up, down per block.
  expect(ins.stdout).toContain('16 MbqQuantizedMatMul nodes');
  expect(ins.stdout).toContain('fused decoder ops: MbqRmsNorm 6, MbqAddRmsNorm 8, MbqRopeAppendKv 4, MbqAttention 4, MbqSiluGate 4');
  const plain = await runCli(['inspect', FIXTURE]);
  expect(plain.stdout).toContain('decoder blocks: 4');
});

test('two conversions with the same inputs and seed are byte-identical', async () => {
  await initBackend('wasm');
  const model = await writeSyntheticModel({ layers: 2, seed: 51 });
  const dirs: string[] = [];
  for (let i = 0; i < 2; i++) {
    const out = join(mkdtempSync(join(tmpdir(), 'mbq-det-')), 'q');
    await convert({ modelDir: model, calibDir: CALIB, outDir: out, samples: 6, seed: 7, gridSize: 5 });
    dirs.push(out);
  }
  const files = readdirSync(dirs[0]).sort();
  expect(readdirSync(dirs[1]).sort()).toEqual(files);
  for (const f of files) expect(readFileSync(join(dirs[1], f)).equals(readFileSync(join(dirs[0], f)))).toBe(true);
  // A different seed picks other samples: the output changes.
  const other = join(mkdtempSync(join(tmpdir(), 'mbq-det-')), 'q');
  await convert({ modelDir: model, calibDir: CALIB, outDir: other, samples: 6, seed: 8, gridSize: 5 });
  expect(readFileSync(join(other, 'quantization.json')).equals(readFileSync(join(dirs[0], 'quantization.json')))).toBe(false);
});

test('SIGINT during a conversion removes the temporary output and says so', async () => {
  const bin = join(ROOT, 'packages/cli/dist/bin.js');
  expect(existsSync(bin)).toBe(true); // built by `npm test` (tsc -b) before jest
  const parent = mkdtempSync(join(tmpdir(), 'mbq-int-'));
  const child = spawn(process.execPath, [bin, 'convert', FIXTURE, '--calib', CALIB, '--out', join(parent, 'q'), '--samples', '16', '--backend', 'wasm'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  // The exit status a shell reports: the signal re-raised after cleanup ends the process (128 + 2).
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + osConstants.signals[signal] : null))));
  // Interrupt once the temporary sibling exists (the search is running).
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && !readdirSync(parent).some((f) => f.startsWith('.q.tmp-'))) await new Promise((r) => setTimeout(r, 100));
  expect(readdirSync(parent).some((f) => f.startsWith('.q.tmp-'))).toBe(true);
  child.kill('SIGINT');
  expect(await exit).toBe(130);
  expect(stderr).toMatch(/interrupted by SIGINT; removed the partial output .*\.q\.tmp-/);
  expect(readdirSync(parent)).toEqual([]);
});
