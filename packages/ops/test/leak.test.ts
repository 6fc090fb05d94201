/**
 * Issue 6 §5: no kernel of @tfjs-mbq/ops leaks. Each kernel (every mode it has) is called many
 * times with its outputs disposed; afterwards the engine's tensor count, byte count and the
 * backend's own buffer count (numDataIds: catches intermediates a kernel allocates and forgets,
 * which numTensors does not see) are back at their baseline. 1000 calls per kernel on cpu and wasm;
 * 100 on webgpu (software adapter here, slow).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  addRmsNorm, dequantizeGroupwise, hadamardTransform, mbqReconstructionLoss, pseudoQuantize, quantizeActivationPerToken,
  quantizeActivationPerTokenWithCodes, quantizeGroupwise, quantizedMatMul, uniformReconstructionLoss,
} from '@tfjs-mbq/ops';
import { freshSeed, makeRng, randomData, useBackend, type TestBackend } from './ops_test_util.js';

const CALLS: Record<TestBackend, number> = { cpu: 1000, wasm: 1000, webgpu: 100 };

interface Fixture { w: tf.Tensor2D; g: tf.Tensor1D; x: tf.Tensor2D; x3: tf.Tensor3D; xb: tf.Tensor2D; x3b: tf.Tensor3D; vm: tf.Tensor; cm: tf.Tensor; packed: tf.Tensor2D; scales: tf.Tensor2D; zeros: tf.Tensor2D; packed4: tf.Tensor2D; scales4: tf.Tensor2D; zeros4: tf.Tensor2D }

/** Odd sizes: N = 5 rows, K = 48 (groups of 16; 3-bit rows straddle words), 7 tokens. */
function fixture(seed: number): Fixture {
  const rng = makeRng(seed);
  const w = tf.tensor2d(randomData(rng, 5 * 48), [5, 48]);
  const q3 = quantizeGroupwise(w, { bits: 3, groupSize: 16 });
  const q4 = quantizeGroupwise(w, { bits: 4, groupSize: 16 });
  return {
    w, g: tf.tensor1d(randomData(rng, 48)), x: tf.tensor2d(randomData(rng, 7 * 48), [7, 48]), x3: tf.tensor3d(randomData(rng, 7 * 48), [1, 7, 48]),
    xb: tf.tensor2d(randomData(rng, 7 * 48), [7, 48]), x3b: tf.tensor3d(randomData(rng, 7 * 48), [1, 7, 48]),
    vm: tf.tensor2d([[1, 1, 1, 0, 0, 0, 0]], [1, 7], 'int32'), cm: tf.tensor2d([[0, 0, 0, 0, 1, 1, 1]], [1, 7], 'bool'),
    packed: q3.packed, scales: q3.scales, zeros: q3.zeros, packed4: q4.packed, scales4: q4.scales, zeros4: q4.zeros,
  };
}

/** One call per kernel variant; returns everything it produced so the caller can dispose it. */
function variants(f: Fixture): Record<string, () => tf.Tensor[]> {
  return {
    'MbqPseudoQuantize asym-group': () => [pseudoQuantize(f.w, { bits: 3, mode: 'asym-group', groupSize: 16 })],
    'MbqPseudoQuantize sym-channel': () => [pseudoQuantize(f.w, { bits: 4, mode: 'sym-channel' })],
    'MbqPseudoQuantize sym-token': () => [pseudoQuantize(f.x3, { bits: 8, mode: 'sym-token' })],
    'MbqPseudoQuantize sym-tensor': () => [pseudoQuantize(f.x, { bits: 2, mode: 'sym-tensor' })],
    MbqQuantizeGroupwise: () => { const q = quantizeGroupwise(f.w, { bits: 3, groupSize: 16 }); return [q.packed, q.scales, q.zeros]; },
    MbqDequantizeGroupwise: () => [dequantizeGroupwise(f.packed, f.scales, f.zeros, { bits: 3, groupSize: 16, inFeatures: 48 })],
    'MbqQuantizeActivationPerToken (values only)': () => [quantizeActivationPerToken(f.x3, { bits: 8 })],
    'MbqQuantizeActivationPerToken (with codes)': () => { const a = quantizeActivationPerTokenWithCodes(f.x, { bits: 8 }); return [a.values, a.codes, a.scales]; },
    'MbqReconstructionLoss mae': () => [mbqReconstructionLoss(f.x3, f.x3b, f.vm, f.cm, 0.3, 'mae')],
    'MbqReconstructionLoss mse': () => [mbqReconstructionLoss(f.x3, f.x3b, f.vm, f.cm, 0.3, 'mse')],
    MbqUniformReconstructionLoss: () => [uniformReconstructionLoss(f.x, f.xb)],
    'MbqHadamardTransform (exact size 48)': () => [hadamardTransform(f.x)],
    'MbqHadamardTransform inverse': () => [hadamardTransform(f.x3, { inverse: true })],
    'MbqQuantizedMatMul float activations': () => [quantizedMatMul(f.x3, f.packed, f.scales, f.zeros, { bits: 3, groupSize: 16, inFeatures: 48 })],
    'MbqQuantizedMatMul W4A8': () => [quantizedMatMul(f.x, f.packed4, f.scales4, f.zeros4, { bits: 4, groupSize: 16, inFeatures: 48, actBits: 8 })],
    // Two outputs (webgpu: two programs, reshaped views of their outputs).
    MbqAddRmsNorm: () => addRmsNorm(f.x3, f.x3b, f.g, 1e-6),
  };
}

function counts(): { numTensors: number; numBytes: number; numDataIds: number } {
  return { numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes, numDataIds: tf.engine().backend.numDataIds() };
}

describe.each(['cpu', 'wasm', 'webgpu'] as const)('no leaks on %s', (backend) => {
  const seed = freshSeed();
  let f: Fixture;
  beforeAll(async () => {
    await useBackend(backend);
    f = fixture(seed);
  });
  afterAll(() => { tf.dispose(Object.values(f ?? {})); });

  test('the accounting sees a backend buffer that no tensor holds (what a leaky kernel leaves)', () => {
    const before = counts();
    const id = tf.engine().backend.write(new Float32Array(4), [4], 'float32');
    expect(counts().numTensors).toBe(before.numTensors);
    expect(counts().numDataIds).toBe(before.numDataIds + 1);
    tf.engine().backend.disposeData(id, true);
    expect(counts()).toEqual(before);
  });

  test.each(Object.keys(variants(null as never)))(`%s: ${CALLS[backend]} calls, seed ${seed}`, async (name) => {
    const call = variants(f)[name];
    // First call outside the accounting: backends may compile and cache programs once.
    const warm = call();
    await Promise.all(warm.map((t) => t.data()));
    tf.dispose(warm);
    const before = counts();
    let checksum = 0;
    for (let i = 0; i < CALLS[backend]; i++) {
      const outs = call();
      // Read one output now and then, so lazy backends really run the kernel.
      if (i % 100 === 0) checksum += (await outs[0].data())[0];
      tf.dispose(outs);
    }
    expect(Number.isFinite(checksum)).toBe(true);
    expect(counts()).toEqual(before);
  });
});
