/**
 * Memory benchmark (issue 6 §5), run outside jest:
 *   bash scripts/memory/build.sh && node scripts/memory/dist/measure.mjs [options]
 * Converts the fixture (if present) and synthetic LLaMA-style VLMs with growing block counts,
 * each in a fresh child process, and prints peak RSS and tfjs memory per case as a markdown
 * table (and JSON with --json FILE).
 *
 * Options: --blocks 2,4,8,16  --hidden 256 --mlp 768  --backend cpu[,wasm]  --samples 8  --grid 20
 *          --method mbq  --bits 3  --fixture fixtures/tiny-vlm (or "none")  --calib fixtures/shapes-vqa/calib
 *          --child FILE (a convert_one.mjs bundled from another checkout, to compare builds)
 *          --logits-pass-mb N --head-logits-mb N --spill-above-mb N (the converter's memoryLimits, MiB; default its own)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticVlm, blockWeightBytes } from './synthetic.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (k: string, d: string): string => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1] : d; };
const MB = 1024 * 1024;

interface Row {
  label: string; backend: string; blocks: number; modelMB: number; blockMB: number; seconds: number;
  rssBeforeMB: number; peakRssMB: number; peakTfMB: number; peakTfStage: string; peakTensors: number; tensorsAfter: number;
  perStage: Record<string, { peakTfMB: number; peakTensors: number }>;
}

function dirMB(dir: string): number {
  return readdirSync(dir).filter((f) => f.endsWith('.bin')).reduce((a, f) => a + statSync(path.join(dir, f)).size, 0) / MB;
}

function runOne(label: string, model: string, backend: string, blockMB: number): Row {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'mbq-mem-out-')), 'q');
  const args = [path.resolve(opt('child', path.join(here, 'convert_one.mjs'))), '--model', model, '--calib', opt('calib', 'fixtures/shapes-vqa/calib'), '--out', out,
    '--backend', backend, '--samples', opt('samples', '8'), '--grid', opt('grid', '20'), '--method', opt('method', 'mbq'), '--bits', opt('bits', '3'),
    ...['logits-pass-mb', 'head-logits-mb', 'spill-above-mb'].flatMap((k) => (argv.includes(`--${k}`) ? [`--${k}`, opt(k, '')] : []))];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 * MB });
  rmSync(path.dirname(out), { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`${label} on ${backend} failed (exit ${r.status}):\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  const j = JSON.parse(line) as Omit<Row, 'label' | 'modelMB' | 'blockMB'> & { blocks: number };
  const row: Row = { label, modelMB: dirMB(model), blockMB, ...j };
  process.stderr.write(`${label} ${backend}: ${row.blocks} blocks, model ${row.modelMB.toFixed(1)} MB, peak RSS ${row.peakRssMB.toFixed(0)} MB, peak tfjs ${row.peakTfMB.toFixed(1)} MB (${row.peakTfStage}), ${row.seconds.toFixed(0)} s\n`);
  return row;
}

function main(): void {
  const backends = opt('backend', 'cpu').split(',');
  const blocks = opt('blocks', '2,4,8,16').split(',').filter(Boolean).map(Number);
  const hidden = Number(opt('hidden', '256'));
  const mlp = Number(opt('mlp', '768'));
  const fixture = opt('fixture', 'fixtures/tiny-vlm');
  const rows: Row[] = [];
  for (const backend of backends) {
    if (fixture !== 'none' && existsSync(path.join(fixture, 'model.json'))) rows.push(runOne('fixture', fixture, backend, NaN));
    for (const n of blocks) {
      const dir = mkdtempSync(path.join(tmpdir(), `mbq-mem-synth-${n}-`));
      rows.push(runSynthetic(dir, n, hidden, mlp, backend));
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const head = '| model | backend | blocks | weights MB | block MB | peak RSS MB | RSS before MB | peak tfjs MB | at stage | peak tensors | tensors after | s |';
  const sep = '|---|---|---|---|---|---|---|---|---|---|---|---|';
  const body = rows.map((r) => `| ${r.label} | ${r.backend} | ${r.blocks} | ${r.modelMB.toFixed(1)} | ${Number.isNaN(r.blockMB) ? '' : r.blockMB.toFixed(2)} | ${r.peakRssMB.toFixed(0)} | ${r.rssBeforeMB.toFixed(0)} | ${r.peakTfMB.toFixed(1)} | ${r.peakTfStage} | ${r.peakTensors} | ${r.tensorsAfter} | ${r.seconds.toFixed(0)} |`);
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 1024 ** 3).toFixed(1)} GiB, node ${process.version}`;
  process.stdout.write(`machine: ${machine}\n\n${[head, sep, ...body].join('\n')}\n`);
  const json = opt('json', '');
  if (json) writeFileSync(json, JSON.stringify({ machine, argv, rows }, null, 2) + '\n');
}

function runSynthetic(dir: string, n: number, hidden: number, mlp: number, backend: string): Row {
  const gen = spawnSync(process.execPath, [path.join(here, 'measure.mjs'), '--write-synthetic', dir, String(n), String(hidden), String(mlp)], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`writing the synthetic model failed:\n${gen.stderr}`);
  const blockMB = Number(gen.stdout.trim()) / MB;
  return runOne(`synthetic h${hidden}/mlp${mlp}`, dir, backend, blockMB);
}

if (argv[0] === '--write-synthetic') {
  const [dir, n, hidden, mlp] = argv.slice(1);
  writeSyntheticVlm(dir, { blocks: Number(n), hidden: Number(hidden), mlp: Number(mlp), seed: 7 })
    .then((c) => process.stdout.write(`${blockWeightBytes(c)}\n`))
    .catch((e: unknown) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
} else {
  main();
}
