/// <reference types="@webgpu/types" />
/**
 * `npm run bench` (decode part): per-token time of a LLaMA-7B-shaped decoder's linears with
 * random weights: 32 layers × (q, k, v, o 4096→4096; gate, up 4096→11008; down 11008→4096)
 * + LM head 4096→32000, i.e. 225 GEMVs per token, for W3 g128 (fused kernel), fp16 (our
 * shader-f16 GEMV) and float32 (tfjs-webgpu matMul).
 * Attention over the KV cache, RMSNorm, RoPE, SiLU·mul and residual adds are NOT run: they
 * cost the same for every weight format and are small next to the 2.9–26 GB of weights read
 * per token; tokens/s here is therefore an upper bound for each format, compared like for like.
 * Peak GPU memory: nvidia-smi's memory.used after the weights are created, minus before.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quantizedMatMul } from '../src/index.js';
import { wordsPerRow } from '../src/packing.js';
import { planQuantizedMatMul } from '../src/kernels/webgpu/quantized_matmul_plan.js';
import { buildSteps, QmmStep, recordSteps } from './recorded_qmm.js';
import { Dispatchable, fp16Gemv, record } from './baseline_kernels.js';
import { fillRandom, gpuMemoryUsedMiB, setupGpu, storageBuffer } from './gpu_setup.js';
import { median } from './host_timing.js';

const TINY = process.env.BENCH_TINY === '1';
const LAYERS = TINY ? 2 : 32;
const H = TINY ? 256 : 4096;
const MLP = TINY ? 512 : 11008;
const VOCAB = TINY ? 1000 : 32000;
const TOKENS = Number(process.env.BENCH_TOKENS ?? 12);
const BITS = 3;
const GROUP = 128;
const OUT_DIR = process.env.OUT ?? 'bench-out';

interface Linear { K: number; N: number }

function linears(): Linear[] {
  const out: Linear[] = [];
  for (let l = 0; l < LAYERS; l++) {
    out.push({ K: H, N: H }, { K: H, N: H }, { K: H, N: H }, { K: H, N: H }, { K: H, N: MLP }, { K: H, N: MLP }, { K: MLP, N: H });
  }
  out.push({ K: H, N: VOCAB });
  return out;
}

interface Result { format: string; msPerToken: number; tokensPerSec: number; queuedMsPerToken?: number; weightBytes: number; gpuMemMiB: number | null; note: string }

async function main(): Promise<void> {
  const gpu = await setupGpu();
  const { device } = gpu;
  console.log(`adapter: ${gpu.adapterName}`);
  const L = linears();
  const results: Result[] = [];
  const xs = new Map<number, GPUBuffer>();
  const ys = new Map<number, GPUBuffer>();
  for (const d of [H, MLP, VOCAB]) {
    const b = storageBuffer(device, d * 4);
    fillRandom(device, b, d, { kind: 'uniform', lo: -1, hi: 1 }, d);
    xs.set(d, b);
    ys.set(d, storageBuffer(device, d * 4));
  }
  await device.queue.onSubmittedWorkDone();

  /** Per-token latency (submit + wait each token) and queued throughput of a recorded sequence. */
  const timeRecorded = async (rec: (pass: GPUComputePassEncoder) => void): Promise<{ ms: number; queuedMs: number }> => {
    const token = (n: number): Promise<undefined> => {
      const enc = device.createCommandEncoder();
      for (let t = 0; t < n; t++) {
        const pass = enc.beginComputePass();
        rec(pass);
        pass.end();
      }
      device.queue.submit([enc.finish()]);
      return device.queue.onSubmittedWorkDone();
    };
    await token(2);
    const lat: number[] = [];
    for (let t = 0; t < TOKENS; t++) {
      const t0 = performance.now();
      await token(1);
      lat.push(performance.now() - t0);
    }
    const t0 = performance.now();
    await token(TOKENS);
    return { ms: median(lat), queuedMs: (performance.now() - t0) / TOKENS };
  };

  // ---- W3 g128, fused kernel ----
  {
    const mem0 = await gpuMemoryUsedMiB();
    let bytes = 0;
    const ws = L.map((lin, i) => {
      const words = wordsPerRow(lin.K, BITS);
      const G = lin.K / GROUP;
      const packed = storageBuffer(device, lin.N * words * 4);
      const scales = storageBuffer(device, lin.N * G * 4);
      const zeros = storageBuffer(device, lin.N * G * 4);
      fillRandom(device, packed, lin.N * words, { kind: 'bits' }, 100 + i);
      fillRandom(device, scales, lin.N * G, { kind: 'uniform', lo: 0.001, hi: 0.01 }, 20000 + i);
      fillRandom(device, zeros, lin.N * G, { kind: 'integers', levels: 1 << BITS }, 40000 + i);
      bytes += lin.N * words * 4 + 2 * lin.N * G * 4;
      return { lin, words, G, packed, scales, zeros };
    });
    await device.queue.onSubmittedWorkDone();
    const mem1 = await gpuMemoryUsedMiB();
    const steps: QmmStep[][] = ws.map((w) => {
      const plan = planQuantizedMatMul({ M: 1, N: w.lin.N, K: w.lin.K, groups: w.G, words: w.words },
        { bits: BITS, groupSize: GROUP, inFeatures: w.lin.K, actBits: 0 });
      return buildSteps(device, plan, { x: xs.get(w.lin.K)!, packed: w.packed, scales: w.scales, zeros: w.zeros, y: ys.get(w.lin.N)! });
    });
    const t = await timeRecorded((pass) => steps.forEach((s) => recordSteps(pass, s)));
    const memMiB = mem0 !== null && mem1 !== null ? mem1 - mem0 : null;
    results.push({ format: 'W3 g128 (fused kernel, recorded)', msPerToken: t.ms, tokensPerSec: 1000 / t.ms, queuedMsPerToken: t.queuedMs, weightBytes: bytes, gpuMemMiB: memMiB, note: '225 dispatches in one pass per token' });
    // The same through the tfjs op (each call records into tfjs' encoder; host overhead included).
    const xt = tf.randomUniform([1, H], -1, 1);
    const xm = tf.randomUniform([1, MLP], -1, 1);
    const tens = ws.map((w) => ({
      w,
      p: tf.tensor({ buffer: w.packed, zeroCopy: true }, [w.lin.N, w.words], 'int32'),
      s: tf.tensor({ buffer: w.scales, zeroCopy: true }, [w.lin.N, w.G], 'float32'),
      z: tf.tensor({ buffer: w.zeros, zeroCopy: true }, [w.lin.N, w.G], 'float32'),
    }));
    const tokenTfjs = async (): Promise<void> => {
      const outs = tens.map((t) => quantizedMatMul(t.w.lin.K === H ? xt : xm, t.p, t.s, t.z, { bits: BITS, groupSize: GROUP, inFeatures: t.w.lin.K }));
      await outs[outs.length - 1].data();
      outs.forEach((o) => o.dispose());
    };
    await tokenTfjs();
    const lat: number[] = [];
    for (let i = 0; i < TOKENS; i++) {
      const t0 = performance.now();
      await tokenTfjs();
      lat.push(performance.now() - t0);
    }
    const ms = median(lat);
    results.push({ format: 'W3 g128 (tfjs op per linear)', msPerToken: ms, tokensPerSec: 1000 / ms, weightBytes: bytes, gpuMemMiB: memMiB, note: 'quantizedMatMul x225 + readback per token' });
    tens.forEach((t) => { t.p.dispose(); t.s.dispose(); t.z.dispose(); });
    xt.dispose();
    xm.dispose();
    ws.forEach((w) => { w.packed.destroy(); w.scales.destroy(); w.zeros.destroy(); });
    await device.queue.onSubmittedWorkDone();
  }

  // ---- fp16, shader-f16 GEMV ----
  {
    const mem0 = await gpuMemoryUsedMiB();
    let bytes = 0;
    const bufs = L.map((lin, i) => {
      const b = storageBuffer(device, lin.N * lin.K * 2);
      fillRandom(device, b, (lin.N * lin.K) / 2, { kind: 'f16', lo: -0.05, hi: 0.05 }, 60000 + i);
      bytes += lin.N * lin.K * 2;
      return b;
    });
    await device.queue.onSubmittedWorkDone();
    const mem1 = await gpuMemoryUsedMiB();
    const R = Number(process.env.BENCH_F16_R ?? 2);
    const ds: Dispatchable[] = L.map((lin, i) => fp16Gemv(device, lin.K, lin.N, R, bufs[i], xs.get(lin.K)!, ys.get(lin.N)!, gpu.hasF16));
    const t = await timeRecorded((pass) => ds.forEach((d) => record(pass, d)));
    results.push({ format: `fp16 (GEMV R=${R}, ${gpu.hasF16 ? 'shader-f16' : 'unpack2x16float'}, recorded)`, msPerToken: t.ms, tokensPerSec: 1000 / t.ms, queuedMsPerToken: t.queuedMs, weightBytes: bytes, gpuMemMiB: mem0 !== null && mem1 !== null ? mem1 - mem0 : null, note: '225 dispatches in one pass per token' });
    bufs.forEach((b) => b.destroy());
    await device.queue.onSubmittedWorkDone();
  }

  // ---- float32, tfjs-webgpu matMul ----
  {
    const mem0 = await gpuMemoryUsedMiB();
    let bytes = 0;
    const bufs = L.map((lin, i) => {
      const b = storageBuffer(device, lin.N * lin.K * 4);
      fillRandom(device, b, lin.N * lin.K, { kind: 'uniform', lo: -0.05, hi: 0.05 }, 80000 + i);
      bytes += lin.N * lin.K * 4;
      return b;
    });
    await device.queue.onSubmittedWorkDone();
    const mem1 = await gpuMemoryUsedMiB();
    const ws = L.map((lin, i) => tf.tensor({ buffer: bufs[i], zeroCopy: true }, [lin.K, lin.N], 'float32'));
    const xt = tf.randomUniform([1, H], -1, 1);
    const xm = tf.randomUniform([1, MLP], -1, 1);
    const token = async (): Promise<void> => {
      const outs = L.map((lin, i) => tf.matMul(lin.K === H ? xt : xm, ws[i]));
      await outs[outs.length - 1].data();
      outs.forEach((o) => o.dispose());
    };
    await token();
    const lat: number[] = [];
    for (let i = 0; i < Math.max(3, Math.floor(TOKENS / 2)); i++) {
      const t0 = performance.now();
      await token();
      lat.push(performance.now() - t0);
    }
    const ms = median(lat);
    results.push({ format: 'float32 (tfjs-webgpu matMul)', msPerToken: ms, tokensPerSec: 1000 / ms, weightBytes: bytes, gpuMemMiB: mem0 !== null && mem1 !== null ? mem1 - mem0 : null, note: 'tf.matMul x225 + readback per token' });
    ws.forEach((w) => w.dispose());
    xt.dispose();
    xm.dispose();
    bufs.forEach((b) => b.destroy());
  }

  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, 'decode_bench.json'), JSON.stringify({ date: new Date().toISOString(), adapter: gpu.adapterName, layers: LAYERS, hidden: H, mlp: MLP, vocab: VOCAB, results }, null, 1));
  console.log(`# decode bench (linears only), ${gpu.adapterName}`);
  console.log('| format | ms/token | tokens/s | queued ms/token | weights GB | GPU mem MiB |');
  for (const r of results) {
    console.log(`| ${r.format} | ${r.msPerToken.toFixed(2)} | ${r.tokensPerSec.toFixed(1)} | ${r.queuedMsPerToken?.toFixed(2) ?? '-'} | ${(r.weightBytes / 1e9).toFixed(2)} | ${r.gpuMemMiB ?? '-'} |`);
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
