/**
 * Smoke run of the quantization ops: `npm run smoke` (or `MBQ_SMOKE_BACKEND=wasm bash packages/ops/bench/run.sh smoke`).
 * Initialises a backend ('auto' by default), runs each op on seeded random data (the quantizers
 * at every bit width 2..8) and prints, per op, the max abs error against the plain-JavaScript
 * reference algorithm (the cpu kernels' code) and how many output elements differ from it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_NAMES, BackendName, initBackend } from '../src/backends/index.js';
import {
  dequantizeGroupwise, hadamardTransform, mbqReconstructionLoss, pseudoQuantize, quantizeActivationPerToken,
  quantizeGroupwise, uniformReconstructionLoss,
} from '../src/index.js';
import { hadamardTransformImpl } from '../src/kernels/cpu/hadamard_impl.js';
import { combineMbqLoss, rowErrorSums, uniformLoss } from '../src/kernels/cpu/loss_impl.js';
import { fakeQuantize, groupParams, quantizeCodes } from '../src/kernels/cpu/quantize_impl.js';
import { packCodes } from '../src/packing.js';
import { mulberry32 } from '../src/util/prng.js';

/** Uniform in [-0.5, 0.5). */
function rng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() - 0.5;
}

/** Running comparison of one op's outputs against the reference. */
class Stat {
  maxErr = 0;
  differing = 0;
  total = 0;
  add(got: ArrayLike<number>, want: ArrayLike<number>, relative = false): void {
    for (let i = 0; i < want.length; i++) {
      const e = Math.abs(got[i] - want[i]) / (relative ? Math.abs(want[i]) : 1);
      this.maxErr = Math.max(this.maxErr, e);
      if (got[i] !== want[i]) this.differing++;
    }
    this.total += want.length;
  }
}

async function main(): Promise<void> {
  const requested = (process.argv[2] ?? process.env.MBQ_SMOKE_BACKEND ?? 'auto') as BackendName;
  if (!BACKEND_NAMES.includes(requested)) throw new Error(`smoke: unknown backend '${requested}', expected one of ${BACKEND_NAMES.join(', ')}`);
  const report = await initBackend(requested);
  const backend = report.backend;
  console.log(`backend: ${backend} (${report.detail})`);
  const rand = rng(20241126);
  const [N, K, g] = [256, 512, 128];
  const w = Float32Array.from({ length: N * K }, rand);
  const wT = tf.tensor2d(w, [N, K]);
  const stats = new Map<string, Stat>();
  const stat = (label: string): Stat => {
    if (!stats.has(label)) stats.set(label, new Stat());
    return stats.get(label)!;
  };

  for (let bits = 2; bits <= 8; bits++) {
    const asym = groupParams(w, g, bits, 'asym');
    const asymRef = fakeQuantize(w, g, asym, bits, 'asym');
    stat('pseudoQuantize asym-group g128').add(await pseudoQuantize(wT, { bits, mode: 'asym-group', groupSize: g }).data(), asymRef);
    const rowRef = fakeQuantize(w, K, groupParams(w, K, bits, 'sym'), bits, 'sym');
    stat('pseudoQuantize sym-channel').add(await pseudoQuantize(wT, { bits, mode: 'sym-channel' }).data(), rowRef);
    stat('pseudoQuantize sym-tensor').add(await pseudoQuantize(wT, { bits, mode: 'sym-tensor' }).data(),
      fakeQuantize(w, N * K, groupParams(w, N * K, bits, 'sym'), bits, 'sym'));
    const q = quantizeGroupwise(wT, { bits, groupSize: g });
    stat('quantizeGroupwise g128 (packed words)').add(await q.packed.data(), packCodes(quantizeCodes(w, g, asym, bits, 'asym'), N, K, bits));
    stat('dequantizeGroupwise g128').add(await dequantizeGroupwise(q.packed, q.scales, q.zeros, { bits, groupSize: g, inFeatures: K }).data(), asymRef);
    stat('quantizeActivationPerToken').add(await quantizeActivationPerToken(wT, { bits }).data(), rowRef);
    tf.dispose([q.packed, q.scales, q.zeros]);
  }
  // Exact ties: scale 1, zero 1; -0.5, 0.5, 2.5 round to even (-0, 0, 2), 1.5 to 2.
  const ties = tf.tensor2d([[-1, -0.5, 0.5, 1.5, 2.5, 6]]);
  stat('round half to even (hand-computed ties)').add(await pseudoQuantize(ties, { bits: 3, mode: 'asym-group', groupSize: 6 }).data(), [-1, 0, 0, 2, 2, 6]);
  const out = Float32Array.from(w, (v) => v + 0.01 * rand());
  const outT = tf.tensor2d(out, [N, K]);
  const vis = Float32Array.from({ length: N }, (_, i) => (i < 64 ? 1 : 0));
  const cap = Float32Array.from({ length: N }, (_, i) => (i >= 200 ? 1 : 0));
  for (const mode of ['mae', 'mse'] as const) {
    const ref = combineMbqLoss(rowErrorSums(w, out, K, mode === 'mse'), vis, cap, K, 0.7, mode);
    const got = await mbqReconstructionLoss(wT, outT, tf.tensor1d(vis), tf.tensor1d(cap), 0.7, mode).data();
    stat(`mbqReconstructionLoss ${mode} (relative)`).add(got, [ref], true);
  }
  stat('uniformReconstructionLoss (relative)').add(await uniformReconstructionLoss(wT, outT).data(), [uniformLoss(w, out)], true);
  for (const n of [3584, 4096, 11008]) {
    const x = Float32Array.from({ length: 4 * n }, rand);
    stat('hadamardTransform n=3584, 4096, 11008').add(await hadamardTransform(tf.tensor2d(x, [4, n])).data(), hadamardTransformImpl(x, n, false));
  }

  console.log(`${'op'.padEnd(40)} ${'backend'.padEnd(8)} ${'max err vs cpu ref'.padStart(18)} ${'elements differing'.padStart(20)}`);
  for (const [label, s] of stats) {
    console.log(`${label.padEnd(40)} ${backend.padEnd(8)} ${s.maxErr.toExponential(2).padStart(18)} ${`${s.differing}/${s.total}`.padStart(20)}`);
  }
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exit(1);
});
