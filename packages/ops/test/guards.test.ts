/**
 * Issue 6 §6: runtime guards. Every op exported by @tfjs-mbq/ops refuses wrong shapes, dtypes and
 * attributes with a tfjs-style message ("Error in <op>: ...") that says what was expected, leaves
 * no tensor behind when it refuses, and does so on every backend with host memory here (cpu,
 * wasm; the checks run in the op wrappers before any kernel). The MbqQuantizedMatMul graph op is
 * checked through tf.loadGraphModel; the packing helpers name their function.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import {
  dequantizeGroupwise, hadamardTransform, hadamardMatrix, hadamardPlan, mbqReconstructionLoss, packCodes, paleyI, paleyII,
  pseudoQuantize, quantizeActivationPerToken, quantizeActivationPerTokenWithCodes, quantizeGroupwise, quantizedMatMul,
  uniformReconstructionLoss, unpackCodes, wordsPerRow, MbqQuantizedMatMul,
} from '@tfjs-mbq/ops';
import { useBackend } from './ops_test_util.js';

type Case = [what: string, run: () => unknown, expected: RegExp];

/** Inputs shared by the cases: created once per backend, outside the leak accounting. */
function inputs() {
  const w = tf.tensor2d([[0.5, -1, 2, 0.25, -0.75, 1.5], [3, -2, 0.1, 0.2, -0.3, 0.4]]); // [2, 6]
  const q = quantizeGroupwise(w, { bits: 3, groupSize: 3 }); // packed [2, 1], scales/zeros [2, 2]
  const x = tf.tensor2d([[1, 2, 3, 4, 5, 6]]); // [1, 6]
  const a3 = tf.ones([2, 3, 4]);
  const m23 = tf.ones([2, 3]);
  const i32 = tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32');
  return {
    w, q, x, a3, m23, i32, b: tf.tensor1d([true, false], 'bool'), empty: tf.zeros([0, 6]), scalar: tf.scalar(2),
    // Wrong-shaped companions, made here so that no case creates a tensor of its own.
    f22: tf.cast(i32, 'float32'), x15: tf.ones([1, 5]), x112: tf.ones([1, 12]), r1: tf.ones([4]), a235: tf.ones([2, 3, 5]),
    m32: tf.ones([3, 2]), i2: tf.ones([2], 'int32'),
  };
}

function cases(t: ReturnType<typeof inputs>): Record<string, Case[]> {
  const { w, q, x, a3, m23, i32, b, empty, scalar, f22, x15, x112, r1, a235, m32, i2 } = t;
  const qmm = { bits: 3, groupSize: 3, inFeatures: 6 };
  return {
    pseudoQuantize: [
      ['non-tensor x', () => pseudoQuantize([1, 2] as never, { bits: 4, mode: 'sym-tensor' }), /'x' must be a tf\.Tensor, got object/],
      ['int32 x', () => pseudoQuantize(i32, { bits: 4, mode: 'sym-tensor' }), /'x' must have dtype float32, got int32/],
      ['bool x', () => pseudoQuantize(b, { bits: 4, mode: 'sym-tensor' }), /'x' must have dtype float32, got bool/],
      ['empty x', () => pseudoQuantize(empty, { bits: 4, mode: 'sym-tensor' }), /'x' must not be empty, got shape \[0,6\]/],
      ['bits 1', () => pseudoQuantize(w, { bits: 1, mode: 'sym-tensor' }), /bits must be an integer in \[2, 8\], got 1/],
      ['bits NaN', () => pseudoQuantize(w, { bits: Number.NaN, mode: 'sym-tensor' }), /bits must be an integer in \[2, 8\], got NaN/],
      ['bits string', () => pseudoQuantize(w, { bits: '4' as never, mode: 'sym-tensor' }), /bits must be an integer in \[2, 8\], got 4/],
      ['unknown mode', () => pseudoQuantize(w, { bits: 4, mode: 'asym' as never }), /mode must be one of asym-group, sym-channel, sym-token, sym-tensor, got 'asym'/],
      ['groupSize not dividing K', () => pseudoQuantize(w, { bits: 4, mode: 'asym-group', groupSize: 4 }), /groupSize \(4\) must divide the input dimension K \(6\)/],
      ['groupSize 0', () => pseudoQuantize(w, { bits: 4, mode: 'asym-group', groupSize: 0 }), /groupSize must be a positive integer, got 0/],
      ['groupSize on sym mode', () => pseudoQuantize(w, { bits: 4, mode: 'sym-tensor', groupSize: 3 }), /groupSize applies only to mode 'asym-group'/],
      ['sym-channel rank 3', () => pseudoQuantize(a3, { bits: 4, mode: 'sym-channel' }), /'x' must be rank 2, got shape \[2,3,4\]/],
      ['asym-group scalar', () => pseudoQuantize(scalar, { bits: 4, mode: 'asym-group', groupSize: 1 }), /'x' must have rank >= 1, got shape \[\]/],
    ],
    quantizeGroupwise: [
      ['non-tensor w', () => quantizeGroupwise(null as never, { bits: 4, groupSize: 2 }), /'w' must be a tf\.Tensor, got null/],
      ['int32 w', () => quantizeGroupwise(i32, { bits: 4, groupSize: 2 }), /'w' must have dtype float32, got int32/],
      ['rank 3 w', () => quantizeGroupwise(a3, { bits: 4, groupSize: 2 }), /'w' must be rank 2, got shape \[2,3,4\]/],
      ['empty w', () => quantizeGroupwise(empty, { bits: 4, groupSize: 2 }), /'w' must not be empty/],
      ['bits 9', () => quantizeGroupwise(w, { bits: 9, groupSize: 2 }), /bits must be an integer in \[2, 8\], got 9/],
      ['groupSize 4 of K 6', () => quantizeGroupwise(w, { bits: 4, groupSize: 4 }), /groupSize \(4\) must divide the input dimension K \(6\)/],
      ['groupSize 1.5', () => quantizeGroupwise(w, { bits: 4, groupSize: 1.5 }), /groupSize must be a positive integer, got 1\.5/],
    ],
    dequantizeGroupwise: [
      ['float packed', () => dequantizeGroupwise(q.scales, q.scales, q.zeros, { bits: 3, groupSize: 3, inFeatures: 6 }), /'packed' must have dtype int32, got float32/],
      ['int32 scales', () => dequantizeGroupwise(q.packed, i32, q.zeros, { bits: 3, groupSize: 3, inFeatures: 6 }), /'scales' must have dtype float32, got int32/],
      ['rank 1 zeros', () => dequantizeGroupwise(q.packed, q.scales, r1, { bits: 3, groupSize: 3, inFeatures: 6 }), /'zeros' must be rank 2, got shape \[4\]/],
      ['inFeatures 0', () => dequantizeGroupwise(q.packed, q.scales, q.zeros, { bits: 3, groupSize: 3, inFeatures: 0 }), /inFeatures must be a positive integer, got 0/],
      ['words for inFeatures', () => dequantizeGroupwise(q.packed, q.scales, q.zeros, { bits: 3, groupSize: 3, inFeatures: 12 }), /packed must be \[N, ceil\(inFeatures \* bits \/ 32\)\] = \[2, 2\] for inFeatures 12 at 3 bits, got \[2,1\]/],
      ['scales groups', () => dequantizeGroupwise(q.packed, q.scales, q.zeros, { bits: 3, groupSize: 6, inFeatures: 6 }), /scales must be \[N, inFeatures \/ groupSize\] = \[2, 1\], got \[2,2\]/],
      ['bits 0', () => dequantizeGroupwise(q.packed, q.scales, q.zeros, { bits: 0, groupSize: 3, inFeatures: 6 }), /bits must be an integer in \[2, 8\], got 0/],
    ],
    quantizeActivationPerToken: [
      ['int32 x', () => quantizeActivationPerToken(i32, { bits: 8 }), /Error in quantizeActivationPerToken: 'x' must have dtype float32, got int32/],
      ['scalar x', () => quantizeActivationPerToken(scalar, { bits: 8 }), /'x' must have rank >= 1, got shape \[\]/],
      ['empty x', () => quantizeActivationPerToken(empty, { bits: 8 }), /'x' must not be empty/],
      ['bits 16', () => quantizeActivationPerToken(x, { bits: 16 }), /bits must be an integer in \[2, 8\], got 16/],
    ],
    quantizeActivationPerTokenWithCodes: [
      ['int32 x', () => quantizeActivationPerTokenWithCodes(i32, { bits: 8 }), /Error in quantizeActivationPerTokenWithCodes: 'x' must have dtype float32/],
      ['bits undefined', () => quantizeActivationPerTokenWithCodes(x, {} as never), /bits must be an integer in \[2, 8\], got undefined/],
    ],
    mbqReconstructionLoss: [
      ['non-tensor mask', () => mbqReconstructionLoss(a3, a3, [1] as never, m23, 1), /'visionMask' must be a tf\.Tensor/],
      ['int32 reference', () => mbqReconstructionLoss(i32, i32, m23, m23, 1), /'reference' must have dtype float32, got int32/],
      ['shape mismatch', () => mbqReconstructionLoss(a3, a235, m23, m23, 1), /reference \[2,3,4\] and output \[2,3,5\] must have the same shape/],
      ['mask shape', () => mbqReconstructionLoss(a3, a3, m23, m32, 1), /captionMask must have shape \[2,3\] \(the leading dims of reference\) or \[6\], got \[3,2\]/],
      ['string ratio', () => mbqReconstructionLoss(a3, a3, m23, m23, '1' as never), /ratio must be a finite number, got 1/],
      ['infinite ratio', () => mbqReconstructionLoss(a3, a3, m23, m23, Infinity), /ratio must be a finite number, got Infinity/],
      ['mode', () => mbqReconstructionLoss(a3, a3, m23, m23, 1, 'l2' as never), /mode must be 'mae' or 'mse', got 'l2'/],
      ['scalar reference', () => mbqReconstructionLoss(scalar, scalar, m23, m23, 1), /'reference' must have rank >= 1, got shape \[\]/],
    ],
    uniformReconstructionLoss: [
      ['int32 output', () => uniformReconstructionLoss(f22, i32), /'output' must have dtype float32, got int32/],
      ['shape mismatch', () => uniformReconstructionLoss(a3, m23), /reference \[2,3,4\] and output \[2,3\] must have the same shape/],
      ['empty', () => uniformReconstructionLoss(empty, empty), /reference is empty/],
    ],
    hadamardTransform: [
      ['scalar x', () => hadamardTransform(scalar), /'x' must have rank >= 1, got shape \[\]/],
      ['int32 x', () => hadamardTransform(i32), /'x' must have dtype float32, got int32/],
      ['empty x', () => hadamardTransform(empty), /'x' must not be empty/],
      ['non-tensor x', () => hadamardTransform(undefined as never), /'x' must be a tf\.Tensor, got undefined/],
    ],
    quantizedMatMul: [
      ['int32 x', () => quantizedMatMul(i32, q.packed, q.scales, q.zeros, qmm), /'x' must have dtype float32, got int32/],
      ['float packed', () => quantizedMatMul(x, q.scales, q.scales, q.zeros, qmm), /'packed' must have dtype int32, got float32/],
      ['x last dim', () => quantizedMatMul(x15, q.packed, q.scales, q.zeros, qmm), /the last dimension of x \(5\) must equal inFeatures=6/],
      ['packed words', () => quantizedMatMul(x112, q.packed, q.scales, q.zeros, { ...qmm, inFeatures: 12, groupSize: 6 }), /packed must have ceil\(K\*bits\/32\) = 2 words per row for K=12, bits=3; got 1/],
      ['scales shape', () => quantizedMatMul(x, q.packed, m23, q.zeros, qmm), /scales must have shape \[N, K\/groupSize\] = \[2, 2\], got \[2,3\]/],
      ['bits 1', () => quantizedMatMul(x, q.packed, q.scales, q.zeros, { ...qmm, bits: 1 }), /bits must be an integer in \[2, 8\], got 1/],
      ['groupSize', () => quantizedMatMul(x, q.packed, q.scales, q.zeros, { ...qmm, groupSize: 4 }), /groupSize must be a positive integer dividing inFeatures=6, got 4/],
      ['actBits 4', () => quantizedMatMul(x, q.packed, q.scales, q.zeros, { ...qmm, actBits: 4 as never }), /actBits must be 0 \(float\) or 8 \(int8 per token\), got 4/],
      ['actBits 8 needs bits 4', () => quantizedMatMul(x, q.packed, q.scales, q.zeros, { ...qmm, actBits: 8 }), /actBits=8 \(W4A8\) needs bits=4, got bits=3/],
      ['no options', () => quantizedMatMul(x, q.packed, q.scales, q.zeros, undefined as never), /options \{bits, groupSize, inFeatures\} are required/],
      ['rank 1 packed', () => quantizedMatMul(x, i2, q.scales, q.zeros, qmm), /'packed' must be rank 2, got shape \[2\]/],
    ],
  };
}

const PREFIX: Record<string, string> = { quantizeActivationPerTokenWithCodes: 'quantizeActivationPerTokenWithCodes' };

describe.each(['cpu', 'wasm'] as const)('runtime guards on %s', (backend) => {
  let t: ReturnType<typeof inputs>;
  beforeAll(async () => {
    await useBackend(backend);
    t = inputs();
  });

  const names = ['pseudoQuantize', 'quantizeGroupwise', 'dequantizeGroupwise', 'quantizeActivationPerToken', 'quantizeActivationPerTokenWithCodes',
    'mbqReconstructionLoss', 'uniformReconstructionLoss', 'hadamardTransform', 'quantizedMatMul'];
  test.each(names)('%s refuses bad input with "Error in <op>: <what was expected>"', (op) => {
    for (const [what, run, expected] of cases(t)[op]) {
      let message = '';
      try {
        run();
      } catch (e) {
        message = (e as Error).message;
      }
      expect({ what, message }).toEqual({ what, message: expect.stringMatching(new RegExp(`^Error in ${PREFIX[op] ?? op}: `)) });
      expect({ what, message }).toEqual({ what, message: expect.stringMatching(expected) });
      expect({ what, message }).toEqual({ what, message: expect.stringMatching(/must|needs|expected|required|applies only|is empty/) });
    }
  });

  test('the table covers every tensor op', () => {
    expect(Object.keys(cases(t)).sort()).toEqual([...names].sort());
  });

  test('a refused call leaves the tensor count unchanged', () => {
    const before = tf.memory().numTensors;
    for (const op of names) {
      for (const [what, run] of cases(t)[op]) {
        try { run(); } catch { /* refused */ }
        expect({ what, numTensors: tf.memory().numTensors }).toEqual({ what, numTensors: before });
      }
    }
  });
});

describe('guards outside the tensor ops', () => {
  test('packing helpers name the function and the expected value', () => {
    expect(() => wordsPerRow(8, 1)).toThrow('wordsPerRow: bits must be an integer in [2, 8], got 1');
    expect(() => wordsPerRow(-1, 4)).toThrow('wordsPerRow: K must be a non-negative integer, got -1');
    expect(() => packCodes([1, 2, 3], 2, 2, 4)).toThrow('packCodes: expected rows*K = 2*2 = 4 codes, got 3');
    expect(() => packCodes([1, 16], 1, 2, 4)).toThrow('packCodes: code 16 at row 0, index 1 is not an integer in [0, 15]');
    expect(() => packCodes([1, 0.5], 1, 2, 4)).toThrow(/code 0\.5 .* is not an integer in \[0, 15\]/);
    expect(() => unpackCodes([1, 2], 1, 8, 4)).toThrow('unpackCodes: expected rows*wordsPerRow = 1*1 = 1 words, got 2');
    expect(() => unpackCodes([1], 1.5, 8, 4)).toThrow('unpackCodes: rows must be a non-negative integer, got 1.5');
  });

  test('Hadamard construction helpers say what sizes they accept', () => {
    expect(() => hadamardPlan(0)).toThrow('hadamardPlan: size must be a positive integer, got 0');
    expect(() => hadamardPlan(2.5)).toThrow(/size must be a positive integer, got 2\.5/);
    expect(() => hadamardMatrix(-4)).toThrow(/size must be a positive integer, got -4/);
    expect(() => paleyI(13)).toThrow('paleyI: q must be a prime ≡ 3 mod 4, got 13');
    expect(() => paleyII(11)).toThrow('paleyII: q must be a prime ≡ 1 mod 4, got 11');
  });

  test('the MbqQuantizedMatMul graph op refuses bad attributes and shapes through tf.loadGraphModel', async () => {
    await useBackend('cpu');
    const w = tf.tensor2d([[0.5, -1, 2, 0.25], [3, -2, 0.1, 0.2]]);
    const q = quantizeGroupwise(w, { bits: 4, groupSize: 2 });
    const model = async (attrs: Record<string, unknown>, inputs = ['x', 'packed', 'scales', 'zeros']): Promise<tf.InferenceModel> => {
      const node = (name: string, dtype: string, shape: number[]) => ({
        name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: shape.map((size) => ({ size: String(size) })) } } } },
      });
      const topology = {
        node: [
          { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '-1' }] } } } },
          node('packed', 'DT_INT32', q.packed.shape), node('scales', 'DT_FLOAT', q.scales.shape), node('zeros', 'DT_FLOAT', q.zeros.shape),
          { name: 'y', op: MbqQuantizedMatMul, input: inputs, attr: attrs },
        ],
        versions: { producer: 1 },
      };
      const data = [await q.packed.data(), await q.scales.data(), await q.zeros.data()];
      const bytes = new Uint8Array(data.reduce((a, d) => a + d.byteLength, 0));
      let off = 0;
      for (const d of data) { bytes.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), off); off += d.byteLength; }
      return loadGraphModel(tf.io.fromMemory({
        modelTopology: topology, format: 'graph-model',
        weightSpecs: [
          { name: 'packed', shape: q.packed.shape, dtype: 'int32' }, { name: 'scales', shape: q.scales.shape, dtype: 'float32' },
          { name: 'zeros', shape: q.zeros.shape, dtype: 'float32' },
        ],
        weightData: bytes.buffer,
      }));
    };
    const good = { bits: { i: '4' }, group_size: { i: '2' }, in_features: { i: '4' } };
    const ok = await model(good);
    const y = ok.predict(tf.ones([3, 4]), {}) as tf.Tensor;
    expect(y.shape).toEqual([3, 2]);
    const run = async (attrs: Record<string, unknown>, x = tf.ones([3, 4]), inputs?: string[]): Promise<string> => {
      try {
        const m = await model(attrs, inputs);
        (m.predict(x, {}) as tf.Tensor).dispose();
        return 'no error';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(await run(good, tf.ones([3, 5]))).toMatch(/Error in quantizedMatMul: the last dimension of x \(5\) must equal inFeatures=4/);
    expect(await run({ ...good, bits: { i: '9' } })).toMatch(/bits must be an integer in \[2, 8\], got 9/);
    expect(await run({ ...good, group_size: { i: '3' } })).toMatch(/groupSize must be a positive integer dividing inFeatures=4, got 3/);
    expect(await run({ ...good, act_bits: { i: '4' } })).toMatch(/act_bits must be 0 or 8, got 4/);
    expect(await run({ bits: good.bits, group_size: good.group_size })).toMatch(/attr 'in_features' must be an integer/);
    expect(await run(good, undefined, ['x', 'packed', 'scales'])).toMatch(/expected 4 inputs \[x, packed, scales, zeros\], got 3/);
  });
});
