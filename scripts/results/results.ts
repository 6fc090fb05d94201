/**
 * Reproduces docs/results.md (issue 4 §6): every conversion of the matrix, each in its own
 * process (`--jobs N` at a time), then the tables.
 *
 *   bash scripts/results/build.sh
 *   node scripts/results/dist/results.mjs run    [--jobs 2] [--seeds 0,1,2] [--limit 0] [--out out/results] [--only REGEX] [--keep] [--force]
 *   node scripts/results/dist/results.mjs render [--out out/results] [--md docs/results.md] [--section NAME]
 *
 * `--model DIR` (run) picks the model: fixtures/tiny-vlm by default; a Hugging Face checkpoint
 * (e.g. fixtures/llava-shapes) is imported once into <out>/imported, which every job reads.
 * `--section NAME` (render) writes between the markers `<!-- results-NAME:begin ... -->` and
 * `<!-- results-NAME:end -->` instead of the default `results:` ones, and leaves out the CI
 * regression figures (they are the default section's).
 *
 * `run` skips jobs whose record (<out>/jobs/<id>.json) exists, so an interrupted run resumes.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODEL_DIR, resultsMatrix, type Job } from './matrix.js';
import { renderResults } from './render.js';
import type { JobRecord } from './job.js';

const argv = process.argv.slice(2);
const opt = (k: string, d: string): string => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1] : d; };
const flag = (k: string): boolean => argv.includes(`--${k}`);

const outRoot = opt('out', 'out/results');
const limit = Number(opt('limit', '0'));
const seeds = opt('seeds', '0,1,2').split(',').map(Number);
const model = opt('model', MODEL_DIR);
const imported = path.join(outRoot, 'imported');

/** The directory the jobs read: the model itself, or the import of an HF checkpoint (made by `run`). */
async function sourceDir(): Promise<string> {
  const { isHfCheckpointDir } = await import('@tfjs-mbq/importer');
  return (await isHfCheckpointDir(model)) ? imported : model;
}

/** Jobs that take longest first, so the tail of a parallel run is short. */
function costRank(j: Job): number {
  const m = { mbq: 4, smoothquant: 3, awq: 3, rtn: 1 }[j.method ?? 'rtn'] ?? 0;
  return (j.kind === 'fp' ? 0 : m) + (j.rotate ? 1 : 0);
}

function runChild(j: Job): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = [process.argv[1], 'job', j.id, '--out', outRoot, '--limit', String(limit), '--seeds', seeds.join(','), '--model', model, ...(flag('keep') ? ['--keep'] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (code) => code === 0 ? resolve() : reject(new Error(`job ${j.id} failed (exit ${code}):\n${stderr.slice(-4000)}`)));
  });
}

async function runAll(): Promise<void> {
  const only = argv.includes('--only') ? new RegExp(opt('only', '')) : null;
  const jobs = resultsMatrix(seeds)
    .filter((j) => !only || only.test(j.id))
    .filter((j) => flag('force') || !existsSync(path.join(outRoot, 'jobs', `${j.id}.json`)))
    .sort((a, b) => costRank(b) - costRank(a));
  const parallel = Number(opt('jobs', '2'));
  if ((await sourceDir()) === imported && !existsSync(path.join(imported, 'model.json'))) {
    const { importCheckpoint } = await import('@tfjs-mbq/importer');
    await importCheckpoint({ hfDir: model, outDir: imported });
    console.log(`results: imported ${model} into ${imported}`);
  }
  console.log(`results: ${jobs.length} jobs on ${model}, ${parallel} at a time, eval limit ${limit || 'all'}, out ${outRoot}`);
  const t0 = performance.now();
  let next = 0;
  const failures: string[] = [];
  async function lane(): Promise<void> {
    while (next < jobs.length) {
      const j = jobs[next++];
      try { await runChild(j); } catch (e) { failures.push((e as Error).message); }
    }
  }
  await Promise.all(Array.from({ length: parallel }, lane));
  console.log(`results: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (failures.length) { console.error(failures.join('\n\n')); process.exit(1); }
}

async function runOneJob(id: string): Promise<void> {
  const j = resultsMatrix(seeds).find((x) => x.id === id);
  if (!j) throw new Error(`no job "${id}" in the matrix`);
  // In a single-file bundle (the GPU machine's .device/results.mjs) tfjs-backend-wasm's loader
  // looks for its .wasm files next to __dirname, which ESM lacks: point it at the bundle's folder.
  (globalThis as { __dirname?: string }).__dirname ??= path.dirname(fileURLToPath(import.meta.url));
  const { runJob } = await import('./job.js');
  const rec = await runJob(j, outRoot, limit, flag('keep'), model, await sourceDir());
  mkdirSync(path.join(outRoot, 'jobs'), { recursive: true });
  writeFileSync(path.join(outRoot, 'jobs', `${id}.json`), JSON.stringify(rec, null, 1) + '\n');
  const pct = (rec.eval.accuracy * 100).toFixed(2);
  console.log(`${id.padEnd(26)} ${pct}%  ppl ${rec.eval.captionPerplexity.toFixed(4)}  convert ${rec.convertSeconds.toFixed(0)} s  eval ${rec.eval.seconds.toFixed(0)} s`);
}

function render(): void {
  const dir = path.join(outRoot, 'jobs');
  const records = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as JobRecord);
  const md = opt('md', 'docs/results.md');
  const section = argv.includes('--section') ? opt('section', '') : null;
  if (section !== null && !/^[a-z0-9-]+$/.test(section)) throw new Error(`render --section: "${section}" is not a name of a-z, 0-9 and -`);
  const tables = renderResults(records, { regression: section === null });
  const begin = section === null ? '<!-- results:begin (generated by scripts/results render) -->' : `<!-- results-${section}:begin (generated by scripts/results render --section ${section}) -->`;
  const end = section === null ? '<!-- results:end -->' : `<!-- results-${section}:end -->`;
  const old = existsSync(md) ? readFileSync(md, 'utf8') : `# Results\n\n${begin}\n${end}\n`;
  const a = old.indexOf(begin);
  const b = old.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${md} has no ${begin} ... ${end} markers`);
  writeFileSync(md, old.slice(0, a) + begin + '\n' + tables + end + old.slice(b + end.length));
  console.log(`render: ${records.length} records -> ${md}`);
}

const cmd = argv[0];
if (cmd === 'run') await runAll();
else if (cmd === 'job') await runOneJob(argv[1]);
else if (cmd === 'render') render();
else { console.error('usage: results.mjs run|render|job <id> [options] (see the header of scripts/results/results.ts)'); process.exit(2); }
