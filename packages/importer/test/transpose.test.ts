/**
 * The blocked transpose the importer lays torch Linear weights out with ([N, K] -> [K, N]): equal to
 * the element-by-element definition for chunks that start and end anywhere in a row, and for a
 * row range of a fused tensor (lo, hi).
 */
import { transposeChunk } from '../src/arch/plan.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('transposeChunk equals out[c·N + r] = src[r·K + c] for any chunking and row range', () => {
  const seed = (Date.now() % 1e9) >>> 0;
  console.log(`seed ${seed}`);
  const rand = rng(seed);
  for (let trial = 0; trial < 40; trial++) {
    const total = 1 + Math.floor(rand() * 40); // rows of the source tensor
    const k = 1 + Math.floor(rand() * 150); // crosses the 64-column block edge
    const r0 = Math.floor(rand() * total);
    const r1 = r0 + 1 + Math.floor(rand() * (total - r0));
    const [lo, hi, n] = [r0 * k, r1 * k, r1 - r0];
    const src = Float32Array.from({ length: total * k }, () => rand() - 0.5);
    const want = new Float32Array(n * k);
    for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) want[c * n + r] = src[lo + r * k + c]!;
    const out = new Float32Array(n * k).fill(Number.NaN);
    const chunk = 1 + Math.floor(rand() * (2 * k + 5));
    for (let first = 0; first < src.length; first += chunk) transposeChunk(src.subarray(first, first + chunk), first, lo, hi, n, k, out);
    expect(Array.from(out)).toEqual(Array.from(want));
  }
});
