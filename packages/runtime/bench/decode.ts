/**
 * Decode-speed benchmark of @tfjs-mbq/runtime: KV-cache steps vs re-running the sequence, on a
 * LLaMA-shaped random-weight VLM with W4 (MbqQuantizedMatMul) linears, through loadVlm/generate.
 *   node decode.mjs [--backend webgpu] [--layers 8] [--hidden 1024] [--tokens 48] [--runs 3] [--out dir]
 * Prints a table; writes decode.json to --out.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, type BackendName } from '@tfjs-mbq/ops/backends';
import { loadVlm } from '@tfjs-mbq/runtime';
import { testImage, writeTinyVlm } from '../test/helpers/tiny_vlm.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const backend = arg('backend', 'webgpu') as BackendName;
const layers = Number(arg('layers', '8'));
const hidden = Number(arg('hidden', '1024'));
const tokens = Number(arg('tokens', '48'));
const runs = Number(arg('runs', '3'));
const outDir = arg('out', process.env.OUT ?? '.');
const dims = { imageSize: 64, patch: 8, hidden, heads: hidden / 64, kvHeads: hidden / 256, mlp: Math.round((hidden * 11) / 4 / 128) * 128, maxSeq: 256 };

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  // Weights are made and packed on cpu (webgpu has no synchronous readback in Node).
  await initBackend('cpu');
  const dir = await mkdtemp(join(tmpdir(), 'mbq-bench-'));
  let t0 = performance.now();
  await writeTinyVlm(dir, { seed: 1, layers, dims, eosScale: 0, quantize: { bits: 4, groupSize: 128 } });
  const report = await initBackend(backend);
  console.log(`model: ${layers} layers, hidden ${hidden}, mlp ${dims.mlp}, heads ${dims.heads}/${dims.kvHeads}, 64 image tokens, W4 g128; built in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${report.backend} (${report.detail})`);
  const image = testImage(dims.imageSize, 3);
  const question = 'what color is the shape ?';
  const rows: Array<Record<string, unknown>> = [];
  for (const kvCache of [true, false]) {
    t0 = performance.now();
    const vlm = await loadVlm(dir, { backend: 'current', kvCache });
    const loadMs = performance.now() - t0;
    const time = async (n: number): Promise<{ ms: number; count: number; prompt: number }> => {
      const ms: number[] = [];
      let count = 0;
      let prompt = 0;
      for (let r = 0; r <= runs; r++) {
        const s = performance.now();
        const g = await vlm.generate(image, question, { maxNewTokens: n });
        if (r > 0) ms.push(performance.now() - s);
        count = g.tokenIds.length;
        prompt = g.promptLength;
      }
      return { ms: median(ms), count, prompt };
    };
    const first = await time(1);
    const all = await time(tokens);
    const perToken = (all.ms - first.ms) / (all.count - 1);
    rows.push({ decoding: vlm.decoding, backend: vlm.backend, loadMs: Math.round(loadMs), prompt: all.prompt, tokens: all.count, firstTokenMs: +first.ms.toFixed(1), perTokenMs: +perToken.toFixed(2), tokensPerS: +(1000 / perToken).toFixed(1) });
    vlm.dispose();
  }
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'decode.json'), JSON.stringify({ dims, layers, tokens, runs, rows }, null, 2));
  console.log('decoding  backend  load ms  prompt  tokens  first-token ms  per-token ms  tokens/s');
  for (const r of rows) console.log(`${String(r.decoding).padEnd(9)} ${String(r.backend).padEnd(8)} ${String(r.loadMs).padStart(7)}  ${String(r.prompt).padStart(6)}  ${String(r.tokens).padStart(6)}  ${String(r.firstTokenMs).padStart(14)}  ${String(r.perTokenMs).padStart(12)}  ${String(r.tokensPerS).padStart(8)}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
