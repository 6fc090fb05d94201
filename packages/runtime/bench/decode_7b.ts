/**
 * Issue 17 target 2: decode speed of a LLaMA-7B-shaped VLM with random weights through loadVlm,
 * W3 (RTN, group 128) against the same model in float32, both with the fused decoder ops.
 *   node decode_7b.mjs [--preset 7b|tiny] [--backend webgpu|wasm|cpu] [--prompt 512] [--steps 64]
 *                      [--runs 3] [--profile-steps 8] [--dir /tmp/decode7b] [--out $OUT]
 * Builds both models into --dir (fixtures/src/model/generated_vlm.ts: the converter's emit and fuse
 * path, shards streamed), loads each with loadVlm, then per run (the first discarded, W3 and float
 * interleaved, order alternating) a prefill of --prompt tokens and --steps KV-cache steps
 * (Vlm.timeDecode). The per-token split comes from one tf.profile of --profile-steps steps less one
 * of 0 steps: kernel time of the linears (MbqQuantizedMatMul / MatMul: the weights) and of the
 * rest; host overhead = wall time per token - both. On webgpu the kernel times are tfjs's GPU
 * timestamp queries (null where the adapter has none, e.g. lavapipe); on cpu/wasm they are the
 * kernels' own wall times. Writes decode_7b.json and decode_7b.md to --out.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '@tfjs-mbq/ops/backends';
import { loadVlm, type Vlm } from '@tfjs-mbq/runtime';
import { writeGeneratedVlm } from '../../../fixtures/src/model/generated_vlm.js';
import { WordTokenizer } from '../../../fixtures/src/tokenizer.js';
import { testImage } from '../test/helpers/tiny_vlm.js';
import { PRESETS, presetConfig, type PresetName } from './decode_7b_presets.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
};
function intArg(name: string, dflt: number, min: number): number {
  const v = Number(arg(name, String(dflt)));
  if (!Number.isInteger(v) || v < min) throw new Error(`decode_7b: --${name} must be an integer >= ${min}, got '${arg(name, '')}'`);
  return v;
}

const preset = arg('preset', 'tiny') as PresetName;
if (!(preset in PRESETS)) throw new Error(`decode_7b: --preset must be one of ${Object.keys(PRESETS).join(', ')}, got '${preset}'`);
const backend = arg('backend', 'webgpu') as BackendName;
if (!['webgpu', 'wasm', 'cpu'].includes(backend)) throw new Error(`decode_7b: --backend must be webgpu, wasm or cpu, got '${backend}'`);
const promptTokens = intArg('prompt', 512, 8);
const steps = intArg('steps', 64, 2);
const runs = intArg('runs', 3, 1);
const profileSteps = intArg('profile-steps', 8, 1);
const workDir = arg('dir', '/tmp/decode7b');
const outDir = arg('out', process.env.OUT ?? '.');

const median = (xs: readonly number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const size = (b: number): string => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(2)} MiB`);
const secs = (t0: number): number => +((performance.now() - t0) / 1000).toFixed(1);
const log = (s: string): void => console.log(`[${(performance.now() / 1000).toFixed(0)} s] ${s}`);

/** Kernels that read a linear's weight: the quantized matmul, tfjs's matmuls (the float linears, lm_head). */
const WEIGHT_KERNELS = new Set(['MbqQuantizedMatMul', 'BatchMatMul', '_FusedMatMul', 'MatMul']);

interface Split { weightsMs: number | null; otherMs: number | null; kernelsPerToken: number; byKernel: Record<string, number> }

/**
 * Kernel time per decoded token: tf.profile of a prefill and `n` steps; the prefill's kernels (as
 * many as a profile of 0 steps runs: the same sequence) are dropped, the rest divided by n.
 */
async function kernelSplit(vlm: Vlm, image: ReturnType<typeof testImage>, question: string, n: number): Promise<Split> {
  const kernels = async (k: number): Promise<Awaited<ReturnType<typeof tf.profile>>['kernels']> => (await tf.profile(async () => { await vlm.timeDecode(image, question, { steps: k }); })).kernels;
  const prefillCount = (await kernels(0)).length;
  const stepKernels = (await kernels(n)).slice(prefillCount);
  const byKernel: Record<string, number> = {};
  let weights = 0;
  let other = 0;
  let timed = true;
  for (const kern of stepKernels) {
    const ms = kern.kernelTimeMs;
    if (typeof ms !== 'number') { timed = false; continue; }
    byKernel[kern.name] = (byKernel[kern.name] ?? 0) + ms / n;
    if (WEIGHT_KERNELS.has(kern.name)) weights += ms / n; else other += ms / n;
  }
  for (const k of Object.keys(byKernel)) byKernel[k] = +byKernel[k]!.toFixed(4);
  return { weightsMs: timed ? +weights.toFixed(3) : null, otherMs: timed ? +other.toFixed(3) : null, kernelsPerToken: stepKernels.length / n, byKernel };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  let detail: string;
  if (backend === 'webgpu') {
    // The adapter's own limits (a 7B float weight is 0.5 GB) and timestamp queries where it has them.
    const { setupGpu } = await import('../../ops/bench/gpu_setup.js');
    const gpu = await setupGpu();
    detail = `${gpu.adapterName}; timestamp-query ${gpu.hasTimestamps ? 'yes' : 'no'}`;
  } else {
    detail = (await initBackend(backend)).detail;
  }
  const c = presetConfig(preset);
  const tok = WordTokenizer.fixture();
  log(`preset ${preset}: ${c.lm.layers} layers, hidden ${c.lm.hidden}, MLP ${c.lm.mlp}, ${c.lm.heads} heads, vocab ${c.lm.vocab}; backend ${backend} (${detail})`);
  rmSync(workDir, { recursive: true, force: true });
  const dirs = { w3: join(workDir, 'w3'), float: join(workDir, 'float') } as const;
  const built: Record<string, { seconds: number; weightBytes: number; shards: number }> = {};
  const vlms: Record<'w3' | 'float', Vlm> = {} as Record<'w3' | 'float', Vlm>;
  const loadS: Record<string, number> = {};
  const image = testImage(c.imageSize, 3);
  const words = ['what', 'color', 'is', 'the', 'shape', '?'];
  const ask = (n: number): string => Array.from({ length: n }, (_, i) => words[i % words.length]).join(' ');
  let question = '';
  mkdirSync(outDir, { recursive: true });
  // One model at a time (W3 first): a build's memory is released before the next, and a run cut
  // short by the time limit still leaves W3's first figures in decode_7b.partial.json.
  for (const kind of ['w3', 'float'] as const) {
    let t = performance.now();
    const r = await writeGeneratedVlm(dirs[kind], c, tok, {
      weights: kind === 'w3' ? 'quantized' : 'float', bits: 3, groupSize: 128, seed: 1,
      onShard: (i, n) => { if (i === n || i % 20 === 0) log(`${kind}: shard ${i}/${n}`); },
    });
    built[kind] = { seconds: secs(t), weightBytes: r.weightBytes, shards: r.shards };
    log(`${kind}: built in ${built[kind]!.seconds} s: ${size(r.weightBytes)} in ${r.shards} shards, ${r.quantizedLinears} quantized linears, ${r.fusedNodes.before} -> ${r.fusedNodes.after} nodes`);
    (globalThis as { gc?: () => void }).gc?.();
    t = performance.now();
    vlms[kind] = await loadVlm(dirs[kind], { backend: 'current', maxWeightBytes: r.weightBytes });
    loadS[kind] = secs(t);
    log(`${kind}: loaded in ${loadS[kind]} s (${vlms[kind].decoding}: ${vlms[kind].decodingNote})`);
    if (vlms[kind].decoding !== 'kv-cache') throw new Error(`decode_7b: ${kind} decodes without a KV cache: ${vlms[kind].decodingNote}`);
    if (kind === 'w3') {
      // A question of words that makes the prompt exactly --prompt tokens (BOS, image tokens, words).
      const probe = await vlms.w3.timeDecode(image, ask(8), { steps: 0 });
      question = ask(8 + promptTokens - probe.promptLength);
      const first = await vlms.w3.timeDecode(image, question, { steps });
      const partial = { preset, backend, detail, built, loadS, w3FirstRun: { prefillMs: +first.prefillMs.toFixed(1), stepMsMedian: +median(first.stepMs).toFixed(3) } };
      writeFileSync(join(outDir, 'decode_7b.partial.json'), JSON.stringify(partial, null, 2) + '\n');
      log(`w3 first run (cold): prefill ${first.prefillMs.toFixed(1)} ms, step median ${median(first.stepMs).toFixed(2)} ms`);
    }
  }
  const rows: Record<'w3' | 'float', { prefillMs: number[]; stepMs: number[]; tokens: number[][] }> = { w3: { prefillMs: [], stepMs: [], tokens: [] }, float: { prefillMs: [], stepMs: [], tokens: [] } };
  for (let r = 0; r <= runs; r++) {
    for (const kind of (r % 2 ? ['float', 'w3'] : ['w3', 'float']) as ('w3' | 'float')[]) {
      const t = await vlms[kind].timeDecode(image, question, { steps });
      if (t.promptLength !== promptTokens) throw new Error(`decode_7b: the prompt is ${t.promptLength} tokens, not ${promptTokens}`);
      log(`run ${r}${r === 0 ? ' (warm-up)' : ''} ${kind}: prefill ${t.prefillMs.toFixed(1)} ms, step median ${median(t.stepMs).toFixed(2)} ms`);
      if (r === 0) continue;
      rows[kind].prefillMs.push(t.prefillMs);
      rows[kind].stepMs.push(median(t.stepMs));
      rows[kind].tokens.push(t.tokenIds);
    }
  }
  const result: Record<string, unknown> = { preset, config: c.lm, backend, detail, promptTokens, steps, runs, built, loadS };
  const table: string[] = [
    `| model | weights on disk | prefill ${promptTokens} tok (ms) | decode ms/token | tokens/s | weights' kernel ms/token | other kernel ms/token | host overhead ms/token | kernels/token |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const kind of ['w3', 'float'] as const) {
    const split = await kernelSplit(vlms[kind], image, question, profileSteps);
    const stepMs = median(rows[kind].stepMs);
    const host = split.weightsMs === null || split.otherMs === null ? null : +(stepMs - split.weightsMs - split.otherMs).toFixed(3);
    const row = { prefillMs: +median(rows[kind].prefillMs).toFixed(1), stepMs: +stepMs.toFixed(3), tokensPerS: +(1000 / stepMs).toFixed(1), runsStepMs: rows[kind].stepMs.map((v) => +v.toFixed(3)), split, hostOverheadMs: host };
    result[kind] = row;
    const f = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(2));
    table.push(`| ${kind === 'w3' ? 'W3 g128 (RTN)' : 'float32'} | ${size(built[kind]!.weightBytes)} | ${row.prefillMs} | ${row.stepMs.toFixed(2)} | ${row.tokensPerS} | ${f(split.weightsMs)} | ${f(split.otherMs)} | ${f(host)} | ${split.kernelsPerToken} |`);
  }
  const ratio = +(median(rows.float.stepMs) / median(rows.w3.stepMs)).toFixed(2);
  const sameTokens = rows.w3.tokens.every((t, i) => t.join() === rows.float.tokens[i]!.join());
  result.ratio = ratio;
  result.greedyTokensEqual = sameTokens;
  result.totalS = secs(t0);
  result.peakRssGiB = +(process.resourceUsage().maxRSS / 2 ** 20).toFixed(2);
  table.push('', `W3 / float32 tokens/s: **${ratio}x** (targets: W3 >= 45 tok/s and >= 2.5x float). Greedy tokens equal: ${sameTokens}. Total ${result.totalS} s, peak RSS ${result.peakRssGiB} GiB.`);
  writeFileSync(join(outDir, 'decode_7b.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(outDir, 'decode_7b.md'), table.join('\n') + '\n');
  console.log(table.join('\n'));
  for (const v of Object.values(vlms)) v.dispose();
  if (process.argv.includes('--keep')) return;
  rmSync(workDir, { recursive: true, force: true });
}

main().catch((e) => { console.error(`decode_7b: ${(e as Error).stack ?? e}`); process.exit(1); });
