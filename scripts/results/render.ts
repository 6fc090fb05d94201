/** Markdown tables of docs/results.md from job records: mean over seeds with the spread. */
import type { JobRecord } from './job.js';

const TYPES = ['color', 'comparison', 'count', 'existence', 'position', 'shape'];

interface Stats { mean: number; std: number; min: number; max: number; n: number }

function stats(xs: number[]): Stats {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...xs), max: Math.max(...xs), n };
}

const pct = (x: number): string => (x * 100).toFixed(2);

function accCell(s: Stats): string {
  return s.n > 1 ? `**${pct(s.mean)}** ± ${pct(s.std)} (${pct(s.min)}–${pct(s.max)})` : `**${pct(s.mean)}**`;
}

function label(r: JobRecord): string {
  const j = r.job;
  if (j.kind === 'fp') return 'FP (float32)';
  const m = { rtn: 'RTN', awq: 'AWQ', mbq: 'MBQ', smoothquant: 'SmoothQuant' }[j.method!];
  return `${m} W${j.wBits}${j.aBits ? `A${j.aBits}` : ''}${j.rotate ? ' + rotation' : ''}${j.loss ? ` (${j.loss} loss)` : ''}${j.scaleFamily ? ' (SmoothQuant-family candidates)' : ''}`;
}

function byConfig(records: JobRecord[]): Map<string, JobRecord[]> {
  const m = new Map<string, JobRecord[]>();
  for (const r of records) m.set(r.job.config, [...(m.get(r.job.config) ?? []), r]);
  return m;
}

function table(rows: JobRecord[][], fpAcc: number | undefined): string {
  const head = `| model | seeds | accuracy % (mean ± std, min–max) | Δ vs FP | ${TYPES.join(' | ')} | caption ppl |\n|${'---|'.repeat(TYPES.length + 5)}\n`;
  return head + rows.map((rs) => {
    const acc = stats(rs.map((r) => r.eval.accuracy));
    const types = TYPES.map((t) => pct(stats(rs.map((r) => r.eval.perType[t]?.accuracy ?? NaN)).mean));
    const ppl = stats(rs.map((r) => r.eval.captionPerplexity)).mean.toFixed(4);
    const delta = fpAcc === undefined || rs[0].job.kind === 'fp' ? '' : ((acc.mean - fpAcc) * 100).toFixed(2);
    return `| ${label(rs[0])} | ${rs.map((r) => r.job.seed).join(',')} | ${accCell(acc)} | ${delta} | ${types.join(' | ')} | ${ppl} |`;
  }).join('\n') + '\n';
}

/**
 * Per block and group (first seed): the ratio MBQ weighted vision positions with, the alpha each
 * method chose, and the mean squared output error it left on vision and on caption positions.
 */
function alphaTable(cfg: Map<string, JobRecord[]>, a: string, b: string, title: string): string {
  const ra = cfg.get(a)?.[0];
  const rb = cfg.get(b)?.[0];
  if (!ra || !rb) return '';
  const name = (r: JobRecord): string => '`' + r.job.config + '`';
  const [na, nb] = [name(ra), name(rb)];
  const e = (x: number): string => x.toExponential(2);
  const mse = (g: JobRecord['groups'][number] | undefined, i: 0 | 1): string => g?.modalityMse ? e(g.modalityMse.after[i]) : '';
  let s = `**${title}**, seed ${rb.job.seed}. MSE = mean squared output error of the compared module at the chosen scale, on vision / caption positions (s = 1 gives the RTN error in the first columns).\n\n`;
  s += `| block | group | ratio r | RTN MSE vis / cap | ${na} alpha | ${na} MSE vis / cap | ${nb} alpha | ${nb} MSE vis / cap |\n|---|---|---|---|---|---|---|---|\n`;
  for (const g of rb.groups) {
    const o = ra.groups.find((x) => x.block === g.block && x.group === g.group);
    const rtn = g.modalityMse ? `${e(g.modalityMse.before[0])} / ${e(g.modalityMse.before[1])}` : '';
    s += `| ${g.block} | ${g.group} | ${g.ratio.toFixed(3)} | ${rtn} | ${o ? o.alpha.toFixed(2) : ''} | ${mse(o, 0)} / ${mse(o, 1)} | ${g.alpha.toFixed(2)} | ${mse(g, 0)} / ${mse(g, 1)} |\n`;
  }
  return s + '\n';
}

/** The ids the CI regression test (packages/cli/test/accuracy_regression.test.ts) reproduces. */
const REGRESSION_JOBS = ['mbq-w3-s0', 'mbq-w4a8-s0', 'mbq-sqfam-w4a8-s0'];

function regressionTable(records: JobRecord[]): string {
  const rows = REGRESSION_JOBS.map((id) => records.find((r) => r.job.id === id)).filter((r): r is JobRecord => !!r);
  let s = '### Regression figures\n\n'
    + 'CI reruns these conversions and evaluations (`packages/cli/test/accuracy_regression.test.ts`) and fails if the accuracy falls more than 1 point below the figure here.\n\n'
    + '| job | eval limit | accuracy % |\n|---|---|---|\n';
  for (const r of rows) s += `| ${r.job.id} | ${r.limit} | ${pct(r.eval.accuracy)} |\n`;
  return s + '\n';
}

export function renderResults(records: JobRecord[], opts: { regression: boolean } = { regression: true }): string {
  const cfg = byConfig(records);
  const pick = (ids: string[]): JobRecord[][] => ids.map((id) => cfg.get(id)).filter((x): x is JobRecord[] => !!x);
  const fp = cfg.get('fp')?.[0];
  const limit = records[0]?.limit ?? 0;
  const q = fp?.eval.questions ?? records[0]?.eval.questions;
  let s = `Evaluation set: ${q} questions${limit ? ` (first ${limit})` : ' (all)'} and ${records[0]?.eval.captions} captions of fixtures/shapes-vqa/eval; wasm backend; `
    + `group size 128, ${'32'} calibration samples per seed (defaults).\n\n`;
  s += '### Weight-only\n\n' + table(pick(['fp', 'rtn-w3', 'awq-w3', 'mbq-w3', 'mbq-mse-w3', 'rtn-w4', 'awq-w4', 'mbq-w4']), fp?.eval.accuracy) + '\n';
  s += '### Weight-activation (W4A8: 4-bit weights, 8-bit per-token activations)\n\n'
    + table(pick(['fp', 'rtn-w4a8', 'smoothquant-w4a8', 'awq-w4a8', 'mbq-w4a8', 'awq-sqfam-w4a8', 'mbq-sqfam-w4a8', 'rtn-w4a8-rot', 'smoothquant-w4a8-rot', 'mbq-w4a8-rot', 'mbq-sqfam-w4a8-rot']), fp?.eval.accuracy) + '\n';
  s += '### What each search chose\n\n' + alphaTable(cfg, 'awq-w3', 'mbq-w3', 'AWQ vs MBQ, W3')
    + alphaTable(cfg, 'mbq-w3', 'mbq-mse-w3', 'MBQ (mae, the default) vs MBQ with mse, W3')
    + alphaTable(cfg, 'smoothquant-w4a8', 'mbq-w4a8', 'SmoothQuant vs MBQ, W4A8')
    + alphaTable(cfg, 'smoothquant-w4a8', 'mbq-sqfam-w4a8', 'SmoothQuant (alpha 0.5) vs MBQ searching alpha over the SmoothQuant family, W4A8');
  if (opts.regression) s += regressionTable(records);
  s += '### Commands (one per row; `--seed` runs over the seeds listed)\n\n```\n';
  for (const [, rs] of cfg) s += rs[0].commands.join(' && \\\n  ') + '\n';
  s += '```\n\n';
  const secs = records.map((r) => r.convertSeconds).filter((x) => x > 0);
  if (secs.length) s += `Conversion time per job: ${Math.min(...secs).toFixed(0)}–${Math.max(...secs).toFixed(0)} s (one core each, several jobs in parallel).\n\n`;
  return s;
}
