import * as tf from '@tensorflow/tfjs-core';
import {
  dequantizeGroupwise, pseudoQuantize, quantizeActivationPerToken, quantizeActivationPerTokenWithCodes,
  quantizeGroupwise, unpackCodes, wordsPerRow,
} from '@tfjs-mbq/ops';
import {
  BACKENDS, expectMatchesReference, freshSeed, makeRng, maxAbsDiff, randomData, referenceGroup, useBackend, values,
} from './ops_test_util.js';

const seed = freshSeed();
const BITS = [2, 3, 4, 5, 6, 7, 8];

/** Results per backend, compared across backends at the end. */
const results = new Map<string, Map<string, Float32Array | Int32Array | Uint8Array>>();
function record(backend: string, key: string, v: Float32Array | Int32Array | Uint8Array): void {
  if (!results.has(key)) results.set(key, new Map());
  results.get(key)!.set(backend, v);
}

describe.each(BACKENDS)(`quantization ops on %s (seed ${seed})`, (backend) => {
  beforeAll(async () => { await useBackend(backend); });

  it('pseudoQuantize asym-group: hand-computed, ties round half to even', async () => {
    // bits 3, one group: min -1, max 6 -> scale 7/7 = 1, zero = -round(-1) = 1.
    // -0.5 -> round(-0.5) = -0 -> q 1 -> 0; 0.5 -> 0; 1.5 -> 2; 2.5 -> 2 (Math.round would give 3).
    const x = tf.tensor2d([[-1, -0.5, 0.5, 1.5, 2.5, 6]]);
    expect(Array.from(await values(pseudoQuantize(x, { bits: 3, mode: 'asym-group', groupSize: 6 })))).toEqual([-1, 0, 0, 2, 2, 6]);
    // bits 2: min -1.5, max 1.5 -> scale 1, zero = -round(-1.5) = 2 (half to even; Math.round gives 1).
    // -1.5 -> round = -2 -> q 0 -> -2; 1.5 -> round 2 -> q 4 clamps to 3 -> 1.
    const y = tf.tensor2d([[-1.5, 1.5], [-1.5, 1.5]]);
    expect(Array.from(await values(pseudoQuantize(y, { bits: 2, mode: 'asym-group', groupSize: 2 })))).toEqual([-2, 1, -2, 1]);
  });

  it('pseudoQuantize symmetric modes: hand-computed', async () => {
    // bits 4: absmax 7 -> scale 7/7 = 1; -3.5 -> -4, 0.5 -> 0, 1.5 -> 2, 2.5 -> 2.
    const row = [7, -3.5, 0.5, 1.5, 2.5, -7];
    const x = tf.tensor2d([row, row.map((v) => v * 2)]);
    const perChannel = Array.from(await values(pseudoQuantize(x, { bits: 4, mode: 'sym-channel' })));
    expect(perChannel).toEqual([7, -4, 0, 2, 2, -7, 14, -8, 0, 4, 4, -14]);
    const perToken = Array.from(await values(pseudoQuantize(tf.reshape(x, [1, 2, 6]), { bits: 4, mode: 'sym-token' })));
    expect(perToken).toEqual(perChannel);
    // Whole tensor: absmax 14 -> scale 2: 7/2 = 3.5 -> 4 -> 8; -3.5/2 = -1.75 -> -2 -> -4; 0.25 -> 0; 0.75 -> 1 -> 2; 1.25 -> 1 -> 2.
    const perTensor = Array.from(await values(pseudoQuantize(x, { bits: 4, mode: 'sym-tensor' })));
    expect(perTensor.slice(0, 6)).toEqual([8, -4, 0, 2, 2, -8]);
  });

  it('quantizeGroupwise: hand-computed codes, packing, scales and zeros', async () => {
    const w = tf.tensor2d([[-1, -0.5, 0.5, 1.5, 2.5, 6]]);
    const { packed, scales, zeros } = quantizeGroupwise(w, { bits: 3, groupSize: 6 });
    // codes q = [0, 1, 1, 3, 3, 7] at bits 0, 3, 6, 9, 12, 15.
    expect(packed.dtype).toBe('int32');
    expect(packed.shape).toEqual([1, 1]);
    expect(Array.from(await values(packed))).toEqual([(1 << 3) | (1 << 6) | (3 << 9) | (3 << 12) | (7 << 15)]);
    expect(Array.from(await values(scales))).toEqual([1]);
    expect(Array.from(await values(zeros))).toEqual([1]);
    const back = dequantizeGroupwise(packed, scales, zeros, { bits: 3, groupSize: 6, inFeatures: 6 });
    expect(Array.from(await values(back))).toEqual([-1, 0, 0, 2, 2, 6]);
  });

  it('quantizeActivationPerToken: hand-computed codes and scales', async () => {
    const x = tf.tensor3d([[[127, -63.5, 0.5], [-254, 1, 3]]]);
    const { values: v, codes, scales } = quantizeActivationPerTokenWithCodes(x, { bits: 8 });
    // token 0: scale 127/127 = 1: -63.5 -> -64, 0.5 -> 0. token 1: scale 2: -254 -> -127, 0.5 -> 0, 1.5 -> 2.
    expect(Array.from(await values(codes))).toEqual([127, -64, 0, -127, 0, 2]);
    expect(codes.dtype).toBe('int32');
    expect(scales.shape).toEqual([1, 2, 1]);
    expect(Array.from(await values(scales))).toEqual([1, 2]);
    expect(Array.from(await values(v))).toEqual([127, -64, 0, -254, 0, 4]);
    expect(Array.from(await values(quantizeActivationPerToken(x, { bits: 8 })))).toEqual([127, -64, 0, -254, 0, 4]);
  });

  it.each(BITS)('pseudoQuantize matches the float64 reference in every mode at %i bits', async (bits) => {
    const rng = makeRng(seed + bits);
    const cases: Array<{ shape: number[]; mode: 'asym-group' | 'sym-channel' | 'sym-token' | 'sym-tensor'; g: number; scheme: 'asym' | 'sym' }> = [
      { shape: [7, 48], mode: 'asym-group', g: 16, scheme: 'asym' },
      { shape: [3, 5, 24], mode: 'asym-group', g: 8, scheme: 'asym' },
      { shape: [5, 39], mode: 'asym-group', g: 13, scheme: 'asym' },
      { shape: [9, 33], mode: 'sym-channel', g: 33, scheme: 'sym' },
      { shape: [2, 5, 33], mode: 'sym-token', g: 33, scheme: 'sym' },
      { shape: [13, 7], mode: 'sym-tensor', g: 91, scheme: 'sym' },
      { shape: [65, 131], mode: 'sym-tensor', g: 8515, scheme: 'sym' },
    ];
    for (const c of cases) {
      const size = c.shape.reduce((a, b) => a * b, 1);
      const data = randomData(rng, size, 0.5 + rng.uniform());
      const x = tf.tensor(data, c.shape);
      const out = pseudoQuantize(x, { bits, mode: c.mode, ...(c.mode === 'asym-group' ? { groupSize: c.g } : {}) });
      expect(out.shape).toEqual(c.shape);
      expect(out.dtype).toBe('float32');
      const got = (await values(out)) as Float32Array;
      const exact = expectMatchesReference(got, data, c.g, bits, c.scheme);
      // A group whose zero point sits near a rounding tie is checked to one step only, so a few
      // whole groups may drop out of the exact count (13 of 195 elements for one such group).
      expect(exact).toBeGreaterThan(size * 0.75);
      record(backend, `pq-${bits}-${c.mode}-${c.shape}`, got);
      tf.dispose([x, out]);
    }
  });

  it.each(BITS)('quantizeGroupwise/dequantizeGroupwise at %i bits: codes, scales, zeros match the reference; round trip equals pseudoQuantize bit for bit', async (bits) => {
    const rng = makeRng(seed * 7 + bits);
    for (const [N, K, g] of [[7, 96, 32], [5, 40, 8], [3, 45, 15]]) {
      const data = randomData(rng, N * K);
      const w = tf.tensor2d(data, [N, K]);
      const { packed, scales, zeros } = quantizeGroupwise(w, { bits, groupSize: g });
      expect(packed.shape).toEqual([N, wordsPerRow(K, bits)]);
      expect(scales.shape).toEqual([N, K / g]);
      expect(zeros.shape).toEqual([N, K / g]);
      const codes = unpackCodes(await values(packed), N, K, bits);
      const sv = await values(scales), zv = await values(zeros);
      for (let grp = 0; grp < (N * K) / g; grp++) {
        const ref = referenceGroup(data.subarray(grp * g, (grp + 1) * g), bits, 'asym');
        expect(Math.abs(sv[grp] - ref.scale)).toBeLessThanOrEqual(ref.scale * 1e-6);
        if (ref.groupAmbiguous) continue;
        expect(zv[grp]).toBe(ref.zero);
        for (let i = 0; i < g; i++) {
          if (!ref.ambiguous[i]) expect(codes[grp * g + i]).toBe(ref.codes[i]);
        }
      }
      const deq = dequantizeGroupwise(packed, scales, zeros, { bits, groupSize: g, inFeatures: K });
      const pq = pseudoQuantize(w, { bits, mode: 'asym-group', groupSize: g });
      const a = await values(deq), b = await values(pq);
      // Bitwise: same float32 operations on the same backend.
      expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);
      record(backend, `packed-${bits}-${N}x${K}`, await values(packed));
      record(backend, `deq-${bits}-${N}x${K}`, a);
      tf.dispose([w, packed, scales, zeros, deq, pq]);
    }
  });

  it.each(BITS)('quantizeActivationPerToken at %i bits matches the reference and sym-token pseudoQuantize', async (bits) => {
    const rng = makeRng(seed * 13 + bits);
    const data = randomData(rng, 3 * 5 * 37, 2);
    const x = tf.tensor3d(data, [3, 5, 37]);
    const { values: v, codes, scales } = quantizeActivationPerTokenWithCodes(x, { bits });
    const vv = (await values(v)) as Float32Array;
    expectMatchesReference(vv, data, 37, bits, 'sym');
    const cv = await values(codes), sv = await values(scales);
    const lo = -(2 ** (bits - 1)), hi = 2 ** (bits - 1) - 1;
    for (let i = 0; i < cv.length; i++) {
      expect(cv[i]).toBeGreaterThanOrEqual(lo);
      expect(cv[i]).toBeLessThanOrEqual(hi);
      expect(vv[i]).toBe(Math.fround(cv[i] * sv[Math.floor(i / 37)]));
    }
    const pq = await values(pseudoQuantize(x, { bits, mode: 'sym-token' }));
    expect(maxAbsDiff(pq, vv)).toBe(0);
    record(backend, `act-${bits}`, vv);
    record(backend, `actcodes-${bits}`, cv);
  });
});

describe('quantization backends agree', () => {
  it('wasm and webgpu equal cpu bit for bit', () => {
    // wasm runs the cpu code; the WGSL kernels do the same f32 operations with a correctly
    // rounded division (divRn), so every scale, zero and code agrees exactly.
    expect(results.size).toBeGreaterThan(20);
    for (const [key, byBackend] of results) {
      const cpu = byBackend.get('cpu')!;
      for (const b of ['wasm', 'webgpu']) {
        const other = byBackend.get(b)!;
        let differing = 0;
        for (let i = 0; i < cpu.length; i++) if (cpu[i] !== other[i]) differing++;
        if (differing > 0) throw new Error(`${key}: ${b} differs from cpu in ${differing} of ${cpu.length} elements`);
      }
    }
  });
});
