/**
 * wasm MbqQuantizedMatMul alone (issue 17, target 4): the SIMD kernel vs tfjs-wasm float32
 * matMul (XNNPACK) on the same machine, in one process, variants alternating round by round.
 * `bash packages/ops/bench/run.sh wasm_matmul_bench` (BENCH_ROUNDS, BENCH_SHAPES=KxN,...).
 * Also times what a per-call copy of the packed weights into another module's memory would cost
 * (the kernel shares tfjs-wasm's heap instead), and the unpack + XNNPACK fallback at M = 1.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backends/index.js';
import { packCodes, quantizedMatMul } from '../src/index.js';
import { setQuantizedMatMulWasmOptions } from '../src/kernels/wasm/quantized_matmul.js';
import { mulberry32 } from '../src/util/prng.js';
import { median } from './host_timing.js';

const SHAPES = (process.env.BENCH_SHAPES ?? '4096x4096,4096x11008').split(',').map((s) => s.split('x').map(Number) as [number, number]);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const MS = (process.env.BENCH_MS ?? '1').split(',').map(Number);
/** Calls per timed sample (small shapes need many: a call is a few µs). */
const REPS = Number(process.env.BENCH_REPS ?? 5);

interface Heap { wasm: { HEAPU8: Uint8Array; _malloc(n: number): number; _free(p: number): void }; getMemoryOffset(id: object): number }

async function main(): Promise<void> {
  const report = await initBackend('wasm');
  console.log(`backend wasm (${report.detail}); ${ROUNDS} rounds × ${REPS} calls, variants alternating`);
  const rand = mulberry32(17);
  for (const [K, N] of SHAPES) {
    const wf = tf.tensor2d(Float32Array.from({ length: K * N }, () => rand() - 0.5), [K, N]);
    const weights = [3, 4].map((bits) => {
      const g = 128;
      const packed = packCodes(Uint8Array.from({ length: N * K }, () => Math.floor(rand() * 2 ** bits)), N, K, bits);
      return {
        bits, g,
        packed: tf.tensor2d(packed, [N, packed.length / N], 'int32'),
        scales: tf.tensor2d(Float32Array.from({ length: N * (K / g) }, () => 0.01 + 0.1 * rand()), [N, K / g]),
        zeros: tf.tensor2d(Float32Array.from({ length: N * (K / g) }, () => Math.floor(rand() * 2 ** bits)), [N, K / g]),
      };
    });
    // W4A8: symmetric per-channel weights (groupSize = K).
    const a8Packed = packCodes(Uint8Array.from({ length: N * K }, () => Math.floor(rand() * 16)), N, K, 4);
    const a8 = {
      packed: tf.tensor2d(a8Packed, [N, a8Packed.length / N], 'int32'),
      scales: tf.tensor2d(Float32Array.from({ length: N }, () => 0.01 + 0.1 * rand()), [N, 1]),
      zeros: tf.fill([N, 1], 8) as tf.Tensor2D,
    };
    for (const M of MS) {
      const x = tf.tensor2d(Float32Array.from({ length: M * K }, () => 2 * rand() - 1), [M, K]);
      const heap = tf.backend() as unknown as Heap;
      const w3 = weights[0]!;
      const copyBytes = w3.packed.size * 4;
      const copyTo = heap.wasm._malloc(copyBytes) >>> 0;
      const variants: Record<string, () => void> = {
        'float32 matMul (XNNPACK)': () => tf.matMul(x, wf).dispose(),
        ...Object.fromEntries(weights.map((w) => [`W${w.bits} g128 SIMD`, () => {
          quantizedMatMul(x, w.packed, w.scales, w.zeros, { bits: w.bits, groupSize: w.g, inFeatures: K }).dispose();
        }])),
        'W4A8 per-channel SIMD': () => quantizedMatMul(x, a8.packed, a8.scales, a8.zeros, { bits: 4, groupSize: K, inFeatures: K, actBits: 8 }).dispose(),
        'copy of the W3 packed bytes (per-call copy cost)': () => {
          const src = heap.getMemoryOffset(w3.packed.dataId);
          heap.wasm.HEAPU8.copyWithin(copyTo, src, src + copyBytes);
        },
      };
      if (M === 1) {
        variants['W3 g128 unpack + XNNPACK (old path)'] = () => {
          setQuantizedMatMulWasmOptions({ kernel: 'xnnpack' });
          try {
            quantizedMatMul(x, w3.packed, w3.scales, w3.zeros, { bits: 3, groupSize: 128, inFeatures: K }).dispose();
          } finally {
            setQuantizedMatMulWasmOptions({});
          }
        };
      }
      const wall: Record<string, number[]> = {};
      const cpu: Record<string, number[]> = {};
      for (const name of Object.keys(variants)) { variants[name]!(); wall[name] = []; cpu[name] = []; }
      for (let r = 0; r < ROUNDS; r++) {
        for (const [name, f] of Object.entries(variants)) {
          const reps = name.includes('old path') ? 1 : REPS;
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          for (let i = 0; i < reps; i++) f();
          wall[name]!.push((performance.now() - t0) / reps);
          const c = process.cpuUsage(c0);
          cpu[name]!.push((c.user + c.system) / 1000 / reps);
        }
      }
      heap.wasm._free(copyTo);
      const base = median(wall['float32 matMul (XNNPACK)']!);
      const baseCpu = median(cpu['float32 matMul (XNNPACK)']!);
      console.log(`\nK=${K} N=${N} M=${M}: median ms per call (wall | cpu), ratio to float32 in the same rounds`);
      for (const name of Object.keys(variants)) {
        const w = median(wall[name]!);
        const c = median(cpu[name]!);
        console.log(`  ${name.padEnd(50)} ${w.toFixed(3).padStart(8)} | ${c.toFixed(3).padStart(8)}   ${(w / base).toFixed(2)}x | ${(c / baseCpu).toFixed(2)}x`);
      }
      x.dispose();
    }
    tf.dispose([wf, ...weights.flatMap((w) => [w.packed, w.scales, w.zeros]), a8.packed, a8.scales, a8.zeros]);
  }
}

await main();
