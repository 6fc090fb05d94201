/** Helpers for the ops tests: seeded random data, float64 references, backend list, WebGPU call counting. */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { mulberry32 } from '@tfjs-mbq/ops';

export const BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
export type TestBackend = (typeof BACKENDS)[number];

/** Initialises a backend; webgpu without an adapter fails (never skips), as CI requires. */
export async function useBackend(name: TestBackend): Promise<void> {
  const report = await initBackend(name);
  if (report.backend !== name) throw new Error(`asked for ${name}, got ${report.backend}`);
}

/** mulberry32: small seeded PRNG so a failure can be replayed from the printed seed. */
export function makeRng(seed: number): { uniform: () => number; normal: () => number; seed: number } {
  const uniform = mulberry32(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal, seed };
}

/** A fresh seed per run (printed in test names). Set MBQ_TEST_SEED to replay one. */
export function freshSeed(): number {
  const fixed = process.env.MBQ_TEST_SEED;
  return fixed ? Number(fixed) : (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
}

/** Normal data with a few outliers (x10), as float32 values. */
export function randomData(rng: ReturnType<typeof makeRng>, size: number, scale = 1): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.normal() * scale * (rng.uniform() < 0.02 ? 10 : 1);
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Round half to even, float64 (the reference's own copy, independent of the package). */
function rhe(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** |frac(v) - 0.5| < eps: rounding could go either way under float32 vs float64 arithmetic. */
function nearHalf(v: number, eps = 1e-5): boolean {
  return Math.abs(v - Math.floor(v) - 0.5) < eps * Math.max(1, Math.abs(v));
}

export interface GroupRef { scale: number; zero: number; codes: number[]; deq: number[]; ambiguous: boolean[]; groupAmbiguous: boolean }

/** docs/algorithm.md §5 in float64 for one group (asym or sym). */
export function referenceGroup(x: ArrayLike<number>, bits: number, scheme: 'asym' | 'sym'): GroupRef {
  const xs = Array.from(x);
  const mn = Math.min(...xs), mx = Math.max(...xs);
  let scale: number, zero: number, lo: number, hi: number, groupAmbiguous = false;
  if (scheme === 'asym') {
    lo = 0; hi = 2 ** bits - 1;
    scale = Math.max(mx - mn, 1e-5) / hi;
    zero = Math.min(Math.max(-rhe(mn / scale), lo), hi);
    groupAmbiguous = nearHalf(mn / scale);
  } else {
    lo = -(2 ** (bits - 1)); hi = 2 ** (bits - 1) - 1;
    scale = Math.max(Math.max(Math.abs(mn), Math.abs(mx)), 1e-5) / hi;
    zero = 0;
  }
  const codes = xs.map((v) => Math.min(Math.max(rhe(v / scale) + zero, lo), hi));
  return {
    scale, zero, codes, groupAmbiguous,
    deq: codes.map((q) => (q - zero) * scale),
    ambiguous: xs.map((v) => nearHalf(v / scale)),
  };
}

/**
 * Checks pseudo-quantized `actual` against the float64 reference, group by group: exact code
 * (value within 1e-6 · 2^bits · scale) wherever the rounding is not within 1e-5 (relative) of a tie, and
 * at most one step off where it is. Returns how many elements were checked exactly.
 */
export function expectMatchesReference(actual: ArrayLike<number>, x: ArrayLike<number>, groupSize: number, bits: number, scheme: 'asym' | 'sym'): number {
  let exact = 0;
  for (let g = 0; g * groupSize < x.length; g++) {
    const xs = Array.prototype.slice.call(x, g * groupSize, (g + 1) * groupSize) as number[];
    const ref = referenceGroup(xs, bits, scheme);
    const tol = 1e-6 * 2 ** bits * ref.scale;
    for (let i = 0; i < xs.length; i++) {
      const a = actual[g * groupSize + i];
      const err = Math.abs(a - ref.deq[i]);
      if (ref.groupAmbiguous || ref.ambiguous[i]) {
        if (err > ref.scale * (1 + 1e-5) + tol) throw new Error(`group ${g} element ${i}: ${a} vs reference ${ref.deq[i]} (near a tie) differs by more than one step ${ref.scale}`);
      } else {
        if (err > tol) throw new Error(`group ${g} element ${i} (x = ${xs[i]}, bits ${bits}, ${scheme}): got ${a}, reference ${ref.deq[i]} (scale ${ref.scale}, zero ${ref.zero})`);
        exact++;
      }
    }
  }
  return exact;
}

export async function values(t: tf.Tensor): Promise<Float32Array | Int32Array | Uint8Array> {
  const v = await t.data();
  return v as Float32Array | Int32Array | Uint8Array;
}

/** The prototype of a WebGPU class of Dawn's globals (GPUDevice, GPUQueue, ...), to wrap its methods. */
export function gpuProto(name: string): Record<string, unknown> {
  return (globalThis as unknown as Record<string, { prototype: Record<string, unknown> }>)[name]!.prototype;
}

/** Counts the calls of each [prototype, method] under its key until `restore` puts the methods back. */
export function countCalls<K extends string>(targets: ReadonlyArray<[Record<string, unknown>, string, K]>): { counts: Record<K, number>; restore: () => void } {
  const counts = Object.fromEntries(targets.map(([, , key]) => [key, 0])) as Record<K, number>;
  const restores = targets.map(([proto, name, key]) => {
    const orig = proto[name] as (...a: unknown[]) => unknown;
    proto[name] = function (this: unknown, ...a: unknown[]): unknown {
      counts[key]++;
      return orig.apply(this, a);
    };
    return () => { proto[name] = orig; };
  });
  return { counts, restore: () => restores.forEach((r) => r()) };
}
