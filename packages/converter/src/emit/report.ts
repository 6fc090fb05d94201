/**
 * report.html: one self-contained page (inline SVG, no scripts) that shows at a glance how
 * sensitive each block is to vision vs text errors (like the MBQ paper's Figure 1), which alpha
 * and scales the search chose, and how much each group's loss dropped.
 */
import type { QuantizationJson, GroupRecord } from './quantization_json.js';

const TEXT = '#1f77b4';
const VISION = '#ff7f0e';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(2);
  return v.toFixed(digits);
}

/** Grouped bars: for each block, g_txt and g_vis side by side, on a log axis (they differ by orders of magnitude). */
function sensitivityChart(title: string, rows: Array<{ block: number; gTxt: number; gVis: number; ratio: number; clamped: number }>): string {
  const W = 520; const H = 260; const left = 56; const bottom = 40; const top = 28; const right = 12;
  const plotW = W - left - right; const plotH = H - top - bottom;
  const vals = rows.flatMap((r) => [r.gTxt, r.gVis]).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(...vals)));
  const hi = Math.ceil(Math.log10(Math.max(...vals)));
  const span = Math.max(1, hi - lo);
  const y = (v: number): number => top + plotH - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / span) * plotH;
  const slot = plotW / rows.length;
  const bw = Math.min(28, slot / 3);
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="16" text-anchor="middle" font-size="14" font-weight="600">${esc(title)}</text>`);
  for (let e = lo; e <= hi; e++) {
    const yy = y(10 ** e);
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${yy + 4}" text-anchor="end" font-size="11">1e${e}</text>`);
  }
  rows.forEach((r, i) => {
    const cx = left + slot * i + slot / 2;
    const yt = y(r.gTxt); const yv = y(r.gVis);
    parts.push(`<rect x="${cx - bw - 1}" y="${yt}" width="${bw}" height="${top + plotH - yt}" fill="${TEXT}"><title>block ${r.block} text: ${fmt(r.gTxt)}</title></rect>`);
    parts.push(`<rect x="${cx + 1}" y="${yv}" width="${bw}" height="${top + plotH - yv}" fill="${VISION}"><title>block ${r.block} vision: ${fmt(r.gVis)}</title></rect>`);
    parts.push(`<text x="${cx}" y="${top + plotH + 14}" text-anchor="middle" font-size="11">${r.block}</text>`);
    parts.push(`<text x="${cx}" y="${Math.min(yt, yv) - 4}" text-anchor="middle" font-size="10" fill="#444">r=${fmt(r.ratio, 2)}</text>`);
  });
  parts.push(`<text x="${left + plotW / 2}" y="${H - 6}" text-anchor="middle" font-size="11">decoder block</text>`);
  parts.push(`<text x="14" y="${top + plotH / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 14 ${top + plotH / 2})">mean |dLoss/dY|</text>`);
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/><line x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">${parts.join('')}</svg>`;
}

function lossCurve(g: GroupRecord): string {
  const W = 150; const H = 40;
  if (g.lossCurve.length < 2) return '<span class="muted">-</span>';
  const min = Math.min(...g.lossCurve); const max = Math.max(...g.lossCurve);
  const n = g.lossCurve.length;
  const px = (i: number): number => 2 + (i / (n - 1)) * (W - 4);
  const py = (v: number): number => 2 + (max === min ? 0.5 : (max - v) / (max - min)) * (H - 4);
  const pts = g.lossCurve.map((v, i) => `${px(i).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
  const best = Math.round(g.alpha * n);
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}"><polyline points="${pts}" fill="none" stroke="#555" stroke-width="1.5"/>` +
    `<circle cx="${px(best).toFixed(1)}" cy="${py(g.lossCurve[best] ?? min).toFixed(1)}" r="3.5" fill="#d62728"><title>alpha ${fmt(g.alpha, 2)}</title></circle></svg>`;
}

/** The chosen per-channel scales as a sorted profile (log scale): flat = little reweighting. */
function scaleProfile(g: GroupRecord): string {
  const W = 150; const H = 40;
  const s = [...g.scales].sort((a, b) => b - a);
  const logs = s.map((v) => Math.log10(v));
  const lo = Math.min(-1, ...logs); const hi = Math.max(1, ...logs);
  const bw = (W - 4) / s.length;
  const mid = 2 + ((hi - 0) / (hi - lo)) * (H - 4);
  const bars = logs.map((v, i) => {
    const yv = 2 + ((hi - v) / (hi - lo)) * (H - 4);
    return `<rect x="${(2 + i * bw).toFixed(2)}" y="${Math.min(yv, mid).toFixed(1)}" width="${Math.max(bw, 0.5).toFixed(2)}" height="${Math.abs(mid - yv).toFixed(1)}" fill="#2ca02c"/>`;
  }).join('');
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}"><line x1="0" x2="${W}" y1="${mid.toFixed(1)}" y2="${mid.toFixed(1)}" stroke="#999"/>${bars}` +
    `<title>scales from ${fmt(s[s.length - 1])} to ${fmt(s[0])} (sorted, log scale, line = 1)</title></svg>`;
}

const METHOD_TITLES: Record<string, string> = { mbq: 'MBQ', awq: 'AWQ', rtn: 'RTN (round-to-nearest)', smoothquant: 'SmoothQuant' };

function bytes(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`;
}

export function renderReport(q: QuantizationJson): string {
  const bits = q.aBits ? `W${q.wBits}A${q.aBits}` : `W${q.wBits} g${q.groupSize}`;
  const ev = q.evaluation;
  const sens = q.sensitivity
    ? `<div class="charts">${sensitivityChart('Attention output (o_proj)', q.sensitivity.blocks.map((b) => ({ block: b.block, ...b.attn })))}` +
      `${sensitivityChart('MLP output (down_proj)', q.sensitivity.blocks.map((b) => ({ block: b.block, ...b.mlp })))}</div>` +
      `<p class="legend"><span style="background:${TEXT}"></span> text (caption) tokens <span style="background:${VISION}"></span> vision tokens &nbsp; ` +
      `r = g<sub>vis</sub>/g<sub>txt</sub>; the search uses max(r, median) (median attn ${fmt(q.sensitivity.medianAttn)}, mlp ${fmt(q.sensitivity.medianMlp)}).</p>`
    : `<p class="muted">Modality sensitivity is measured for --method mbq only (this run: ${esc(q.method)}).</p>`;
  const searched = q.method === 'mbq' || q.method === 'awq';
  const kept = new Set(q.keptFloat ?? []);
  const rows = q.groups.map((g) => {
    const drop = g.lossBefore > 0 ? (1 - g.lossAfter / g.lossBefore) * 100 : 0;
    const float = g.linears.length > 0 && g.linears.every((l) => kept.has(l));
    const head = `<tr><td>${g.block}</td><td>${esc(g.group)}${float ? ' <span class="muted">(kept float)</span>' : ''}</td><td>${esc(g.linears.map((l) => l.split('.').pop() ?? l).join(', '))}</td>`;
    if (float) return `${head}<td colspan="8" class="muted">not quantized (--include/--exclude): no scales searched</td></tr>`;
    if (q.method === 'rtn') {
      const mse = g.modalityMse?.before;
      return `${head}<td class="num">${fmt(g.lossBefore)}</td><td class="num">${mse ? fmt(mse[0]) : '-'}</td><td class="num">${mse ? fmt(mse[1]) : '-'}</td></tr>`;
    }
    return `${head}<td>${esc(g.fold)}</td>` +
      `${searched ? `<td class="num">${q.sensitivity ? fmt(g.ratio) : '-'}</td>` : ''}<td class="num">${fmt(g.alpha, 2)}</td><td class="num">${fmt(g.lossBefore)}</td><td class="num">${fmt(g.lossAfter)}</td>` +
      `<td class="num">${drop.toFixed(1)}%</td>${searched ? `<td>${lossCurve(g)}</td>` : ''}<td>${scaleProfile(g)}</td></tr>`;
  }).join('\n');
  const table = q.method === 'rtn'
    ? `<h2>Quantization error per group</h2>
<p class="muted">Round-to-nearest quantizes each weight group as it is: no channel scales are searched or folded.</p>
<table><thead><tr><th>block</th><th>group</th><th>linears</th><th>output MSE</th><th>vision tokens</th><th>text tokens</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="muted">Mean squared error of each group's output (the linear whose output is compared) against the float model on the calibration tokens.</p>`
    : `<h2>${searched ? 'Scale search per group' : 'SmoothQuant scales per group'}</h2>
<table><thead><tr><th>block</th><th>group</th><th>linears</th><th>fold into</th>${searched ? '<th>ratio r</th>' : ''}<th>alpha</th><th>loss (s=1)</th><th>loss (chosen)</th><th>reduction</th>${searched ? '<th>loss vs alpha</th>' : ''}<th>scales (sorted)</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="muted">loss (s=1) is round-to-nearest; ${searched ? `loss curves run over alpha = 0 .. ${fmt((q.gridSize - 1) / q.gridSize, 2)}, the red dot marks the chosen alpha.` : 'SmoothQuant sets its scales at alpha 0.5 without a search.'}</p>`;
  const title = METHOD_TITLES[q.method] ?? q.method;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tfjs-mbq conversion report: ${esc(title)} ${esc(bits)}</title>
<style>
body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:130px}
.card b{display:block;font-size:20px}.card span{font-size:12px;color:#666}
.charts{display:flex;gap:16px;flex-wrap:wrap} .legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;vertical-align:middle}
table{border-collapse:collapse;font-size:13px} td,th{border-bottom:1px solid #eee;padding:3px 8px;text-align:left;vertical-align:middle}
td.num{text-align:right;font-variant-numeric:tabular-nums} .muted{color:#888}
</style></head><body>
<h1>${esc(title)} conversion report</h1>
<div class="muted">method <b>${esc(q.method)}</b>, ${esc(bits)}${q.method === 'mbq' ? `, loss ${esc(q.loss)}` : ''}${q.scaleFamily && q.scaleFamily !== 'awq' ? `, ${esc(q.scaleFamily)}-family scales` : ''}${q.distort ? ', distort' : ''}${q.rotate ? ', rotated' : ''}, ${q.calibration.samples} calibration samples (seed ${q.seed}), ${q.blocks} decoder blocks, emit ${esc(q.emit)}</div>
<div class="cards">
<div class="card"><b>${fmt(ev.captionLossFloat)}</b><span>caption loss, float</span></div>
<div class="card"><b>${fmt(ev.captionLossQuantized)}</b><span>caption loss, quantized</span></div>
<div class="card"><b>${(ev.top1AgreementCaption * 100).toFixed(1)}%</b><span>top-1 agreement with float (caption positions)</span></div>
<div class="card"><b>${q.linears.length}</b><span>quantized linears${q.keptFloat?.length ? ` (${q.keptFloat.length} kept float)` : ''}</span></div>
${q.size ? `<div class="card"><b>${bytes(q.size.inputWeightBytes)} &rarr; ${bytes(q.size.outputWeightBytes)}</b><span>weights before and after (${(q.size.outputWeightBytes / q.size.inputWeightBytes).toFixed(2)}&times;)</span></div>` : ''}
</div>
${q.sensitivity ? `<h2>Modality sensitivity (paper Fig. 1)</h2>\n${sens}` : ''}
${table}
</body></html>
`;
}
