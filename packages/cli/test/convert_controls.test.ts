/**
 * Conversion controls of tensorflowjs_converter users (issue 14 §3): --include/--exclude glob
 * patterns choose the quantized decoder linears (the others stay MatMul with their float weights:
 * with RTN, which folds no scales, byte for byte the input's), --weight-shard-size-bytes bounds the
 * shards, and the summary, quantization.json, report.html and `inspect` give the weight size before
 * and after, equal to the files on disk. RTN, 2 samples, wasm.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/run_cli.js';

const ROOT = process.cwd();
const FIXTURE = join(ROOT, 'fixtures/tiny-vlm');
const CALIB = join(ROOT, 'fixtures/shapes-vqa/calib');
const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const scratch = (): string => { const d = mkdtempSync(join(tmpdir(), 'mbq-controls-')); dirs.push(d); return d; };

interface Entry { name: string; shape: number[]; dtype: string }
interface ModelJson { modelTopology: { node: Array<{ name: string; op: string; input?: string[] }> }; weightsManifest: Array<{ paths: string[]; weights: Entry[] }> }

/** name -> bytes of every weight of a model directory. */
function weightBytes(dir: string): Map<string, Buffer> {
  const mj = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson;
  const out = new Map<string, Buffer>();
  for (const g of mj.weightsManifest) {
    const all = Buffer.concat(g.paths.map((p) => readFileSync(join(dir, p))));
    let o = 0;
    for (const w of g.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1) * 4;
      out.set(w.name, all.subarray(o, o + n));
      o += n;
    }
  }
  return out;
}

const shardBytes = (dir: string): number => {
  const mj = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson;
  return mj.weightsManifest.flatMap((g) => g.paths).reduce((a, p) => a + statSync(join(dir, p)).size, 0);
};

test('--exclude keeps the matching block linears float, --weight-shard-size-bytes bounds the shards; sizes before/after everywhere', async () => {
  const out = join(scratch(), 'rtn');
  const r = await runCli(['convert', FIXTURE, '--calib', CALIB, '--out', out, '--method', 'rtn', '--w-bits', '4', '--samples', '2', '--backend', 'wasm', '--no-progress',
    '--include', 'layers.1.*', '--include', 'lm/layers.2/*', '--include', 'layers.3.*', '--exclude', '*.down_proj', '--weight-shard-size-bytes', '262144',
    // Unfused, so that each linear keeps its own node (fused q/k/v and gate/up share one: converter/test/fuse.test.ts).
    '--no-fuse']);
  expect(r.code).toBe(0);
  const q = JSON.parse(readFileSync(join(out, 'quantization.json'), 'utf8')) as { linears: Array<{ label: string }>; keptFloat: string[]; size: { inputWeightBytes: number; outputWeightBytes: number } };
  // Included: blocks 1-3 (block 2 by node name), less every down_proj.
  const kept = ['layers.0.q_proj', 'layers.0.k_proj', 'layers.0.v_proj', 'layers.0.o_proj', 'layers.0.gate_proj', 'layers.0.up_proj', 'layers.0.down_proj', 'layers.1.down_proj', 'layers.2.down_proj', 'layers.3.down_proj'];
  expect([...q.keptFloat].sort()).toEqual([...kept].sort());
  expect(q.linears.length).toBe(4 * 7 - kept.length);
  expect(q.linears.map((l) => l.label)).not.toContain('layers.1.down_proj');
  expect(q.linears.map((l) => l.label)).toContain('layers.1.q_proj');

  // Graph: the kept linears are MatMuls on the input's float weights, bytes unchanged (RTN folds nothing).
  const mj = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as ModelJson;
  const ops = new Map(mj.modelTopology.node.map((n) => [n.name, n]));
  const inW = weightBytes(FIXTURE);
  const outW = weightBytes(out);
  const find = (name: string): { name: string; op: string; input?: string[] } => ops.get(name)!;
  const downs = find('lm/layers.1/mlp/down_proj/MatMul');
  expect(downs.op).toBe('MatMul');
  const wName = downs.input![1]!;
  expect(outW.get(wName)!.equals(inW.get(wName)!)).toBe(true);
  expect(find('lm/layers.0/self_attn/q_proj/MatMul').op).toBe('MatMul');
  expect(find('lm/layers.2/self_attn/q_proj/MatMul').op).toBe('MbqQuantizedMatMul');

  // Shards: each at most 256 KiB, as many as needed.
  const paths = mj.weightsManifest.flatMap((g) => g.paths);
  const total = shardBytes(out);
  expect(paths.length).toBe(Math.ceil(total / 262144));
  for (const p of paths) expect(statSync(join(out, p)).size).toBeLessThanOrEqual(262144);
  expect(readdirSync(out).filter((f) => f.endsWith('.bin')).length).toBe(paths.length);

  // Sizes: the input's and the output's shards on disk.
  expect(q.size).toEqual({ inputWeightBytes: shardBytes(FIXTURE), outputWeightBytes: total });
  expect(q.size.outputWeightBytes).toBeLessThan(q.size.inputWeightBytes);
  const mib = (n: number): string => `${(n / 1024 ** 2).toFixed(1)} MiB`;
  const line = `weights ${mib(q.size.inputWeightBytes)} -> ${mib(total)} (${(total / q.size.inputWeightBytes).toFixed(2)}x)`;
  expect(r.stdout.split('\n')).toContain(line);
  expect(r.stdout).toContain('kept float by --include/--exclude: 10');
  const report = readFileSync(join(out, 'report.html'), 'utf8');
  expect(report).toContain(`${mib(q.size.inputWeightBytes)} &rarr; ${mib(total)}`);
  // Laid out for round-to-nearest: no search, sensitivity, alpha or scales to show.
  expect(report).toContain('<h1>RTN (round-to-nearest) conversion report</h1>');
  expect(report).toContain('<h2>Quantization error per group</h2>');
  expect(report).not.toMatch(/Scale search|Modality sensitivity|alpha|loss vs/);
  expect(r.stdout).toMatch(/^block\s+group\s+output MSE$/m);
  expect(r.stdout).not.toMatch(/alpha|reduction/);
  // Block 0 is all float: its groups say so (the down_proj groups of the others too).
  expect(r.stdout).toMatch(/^\s+0\s+attn-in \(kept float\)\s+-$/m);
  expect(r.stdout).toMatch(/^\s+1\s+mlp-out \(kept float\)\s+-$/m);
  expect(r.stdout).toMatch(/^\s+1\s+attn-in\s+\d/m);
  expect(report).toContain('<td>attn-in <span class="muted">(kept float)</span></td>');
  const i = await runCli(['inspect', out]);
  expect(i.stdout.split('\n')).toContain(line);
  expect(i.stdout).toContain(`kept float by --include/--exclude: ${q.keptFloat.join(', ')}`);
});

test('patterns that match no block linear or leave nothing are refused naming the pattern, before anything is written', async () => {
  const dir = scratch();
  const run = (...extra: string[]) => runCli(['convert', FIXTURE, '--calib', CALIB, '--out', join(dir, 'x'), '--method', 'rtn', '--samples', '2', '--backend', 'cpu', '--no-progress', ...extra]);
  const lm = await run('--exclude', 'lm_head');
  expect(lm.code).toBe(1);
  expect(lm.stderr).toContain("--exclude 'lm_head': it matches only lm_head, outside the decoder blocks, which always stay float");
  const none = await run('--include', '*.qproj');
  expect(none.code).toBe(1);
  expect(none.stderr).toContain("--include '*.qproj': it matches no decoder-block linear (e.g. layers.0.q_proj, layers.0.k_proj; `tfjs-mbq inspect` lists them)");
  const all = await run('--include', 'layers.1.*', '--exclude', 'layers.*');
  expect(all.code).toBe(1);
  expect(all.stderr).toContain('--include/--exclude leave no linear to quantize');
  const shard = await run('--weight-shard-size-bytes', '100');
  expect(shard.code).toBe(1);
  expect(shard.stderr).toContain('--weight-shard-size-bytes must be an integer >= 1024, got 100');
  expect(readdirSync(dir)).toEqual([]);
});

test('a searching method skips the groups kept float: no scales searched or folded, those weights stay the input\'s', async () => {
  const out = join(scratch(), 'awq');
  const r = await runCli(['convert', FIXTURE, '--calib', CALIB, '--out', out, '--method', 'awq', '--w-bits', '4', '--samples', '2', '--backend', 'wasm', '--no-progress',
    '--exclude', '*.down_proj', '--json']);
  expect(r.code).toBe(0);
  const q = (JSON.parse(r.stdout) as { quantization: { groups: Array<{ block: number; group: string; alpha: number; lossCurve: number[]; scales: number[] }> } }).quantization;
  for (const g of q.groups) {
    if (g.group === 'mlp-out') {
      expect(g.lossCurve).toEqual([]);
      expect(g.scales.every((s) => s === 1)).toBe(true);
    } else {
      expect(g.lossCurve.length).toBe(20); // searched
    }
  }
  // down_proj and the up_proj rows its group would fold into: down_proj unchanged, byte for byte.
  const inW = weightBytes(FIXTURE);
  const outW = weightBytes(out);
  const mj = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as ModelJson;
  for (let b = 0; b < 4; b++) {
    const node = mj.modelTopology.node.find((n) => n.name === `lm/layers.${b}/mlp/down_proj/MatMul`)!;
    expect(node.op).toBe('MatMul');
    expect(outW.get(node.input![1]!)!.equals(inW.get(node.input![1]!)!)).toBe(true);
  }
});
