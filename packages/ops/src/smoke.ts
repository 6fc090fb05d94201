/**
 * Smoke run of the quantization ops: `npm run smoke` (or `node packages/ops/dist/smoke.js [backend]`).
 * Initialises a backend ('auto' by default), runs each op on seeded random data and prints the
 * max abs error against the plain-JavaScript reference algorithm (the cpu kernels' code).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_NAMES, BackendName, initBackend } from './backends/index.js';
import {
  dequantizeGroupwise, hadamardTransform, mbqReconstructionLoss, pseudoQuantize, quantizeActivationPerToken,
  quantizeGroupwise, uniformReconstructionLoss,
} from './index.js';
import { hadamardTransformImpl } from './kernels/cpu/hadamard_impl.js';
import { combineMbqLoss, rowErrorSums, uniformLoss } from './kernels/cpu/loss_impl.js';
import { fakeQuantize, groupParams, quantizeCodes } from './kernels/cpu/quantize_impl.js';
import { packCodes } from './packing.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function main(): Promise<void> {
  const requested = (process.argv[2] ?? 'auto') as BackendName;
  if (!BACKEND_NAMES.includes(requested)) throw new Error(`smoke: unknown backend '${requested}', expected one of ${BACKEND_NAMES.join(', ')}`);
  const report = await initBackend(requested);
  const backend = report.backend;
  console.log(`backend: ${backend} (${report.detail})`);
  const rand = rng(20241126);
  const [N, K, g] = [256, 512, 128];
  const w = Float32Array.from({ length: N * K }, rand);
  const wT = tf.tensor2d(w, [N, K]);
  const rows: Array<[string, number]> = [];
  const check = async (label: string, f: () => Promise<[number]>): Promise<void> => {
    const [err] = await f();
    rows.push([label, err]);
  };

  await check('pseudoQuantize asym-group W3 g128', async () => {
    const ref = fakeQuantize(w, g, groupParams(w, g, 3, 'asym'), 3, 'asym');
    return [maxErr(await pseudoQuantize(wT, { bits: 3, mode: 'asym-group', groupSize: g }).data(), ref)];
  });
  await check('pseudoQuantize sym-channel W4', async () => {
    const ref = fakeQuantize(w, K, groupParams(w, K, 4, 'sym'), 4, 'sym');
    return [maxErr(await pseudoQuantize(wT, { bits: 4, mode: 'sym-channel' }).data(), ref)];
  });
  await check('quantizeGroupwise W3 g128 (packed words)', async () => {
    const p = groupParams(w, g, 3, 'asym');
    const ref = packCodes(quantizeCodes(w, g, p, 3, 'asym'), N, K, 3);
    return [maxErr(await quantizeGroupwise(wT, { bits: 3, groupSize: g }).packed.data(), ref)];
  });
  await check('dequantizeGroupwise W4 g128', async () => {
    const q = quantizeGroupwise(wT, { bits: 4, groupSize: g });
    const ref = fakeQuantize(w, g, groupParams(w, g, 4, 'asym'), 4, 'asym');
    return [maxErr(await dequantizeGroupwise(q.packed, q.scales, q.zeros, { bits: 4, groupSize: g, inFeatures: K }).data(), ref)];
  });
  await check('quantizeActivationPerToken A8', async () => {
    const ref = fakeQuantize(w, K, groupParams(w, K, 8, 'sym'), 8, 'sym');
    return [maxErr(await quantizeActivationPerToken(wT, { bits: 8 }).data(), ref)];
  });
  const out = Float32Array.from(w, (v) => v + 0.01 * rand());
  const outT = tf.tensor2d(out, [N, K]);
  const vis = Float32Array.from({ length: N }, (_, i) => (i < 64 ? 1 : 0));
  const cap = Float32Array.from({ length: N }, (_, i) => (i >= 200 ? 1 : 0));
  for (const mode of ['mae', 'mse'] as const) {
    await check(`mbqReconstructionLoss ${mode} (relative)`, async () => {
      const ref = combineMbqLoss(rowErrorSums(w, out, K, mode === 'mse'), vis, cap, K, 0.7, mode);
      const got = (await mbqReconstructionLoss(wT, outT, tf.tensor1d(vis), tf.tensor1d(cap), 0.7, mode).data())[0];
      return [Math.abs(got - ref) / ref];
    });
  }
  await check('uniformReconstructionLoss (relative)', async () => {
    const ref = uniformLoss(w, out);
    return [Math.abs((await uniformReconstructionLoss(wT, outT).data())[0] - ref) / ref];
  });
  const n = 3584;
  const x = Float32Array.from({ length: 8 * n }, rand);
  await check('hadamardTransform n=3584 (128·28)', async () => {
    return [maxErr(await hadamardTransform(tf.tensor2d(x, [8, n])).data(), hadamardTransformImpl(x, n, false))];
  });

  console.log(`${'op'.padEnd(42)} ${'backend'.padEnd(8)} ${'max err vs cpu ref'.padStart(18)}`);
  for (const [label, err] of rows) console.log(`${label.padEnd(42)} ${backend.padEnd(8)} ${err.toExponential(2).padStart(18)}`);
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exit(1);
});
