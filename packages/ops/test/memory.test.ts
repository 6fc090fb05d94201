import * as tf from '@tensorflow/tfjs-core';
import {
  dequantizeGroupwise, hadamardTransform, mbqReconstructionLoss, pseudoQuantize, quantizeActivationPerToken,
  quantizeActivationPerTokenWithCodes, quantizeGroupwise, uniformReconstructionLoss,
} from '@tfjs-mbq/ops';
import { BACKENDS, freshSeed, makeRng, randomData, useBackend } from './ops_test_util.js';

const seed = freshSeed();

describe.each(BACKENDS)(`no leaked tensors or backend buffers on %s (seed ${seed})`, (backend) => {
  beforeAll(async () => { await useBackend(backend); });

  it('every op frees its intermediates', async () => {
    const rng = makeRng(seed);
    const x = tf.tensor2d(randomData(rng, 6 * 64), [6, 64]);
    const y = tf.tensor2d(randomData(rng, 6 * 64), [6, 64]);
    const mask = tf.tensor1d([1, 0, 1, 0, 0, 1]);
    const run = async (): Promise<void> => {
      const outs: tf.Tensor[] = [];
      outs.push(pseudoQuantize(x, { bits: 3, mode: 'asym-group', groupSize: 16 }));
      outs.push(pseudoQuantize(x, { bits: 4, mode: 'sym-tensor' }));
      const q = quantizeGroupwise(x, { bits: 3, groupSize: 16 });
      outs.push(q.packed, q.scales, q.zeros, dequantizeGroupwise(q.packed, q.scales, q.zeros, { bits: 3, groupSize: 16, inFeatures: 64 }));
      outs.push(quantizeActivationPerToken(x, { bits: 8 }));
      const a = quantizeActivationPerTokenWithCodes(x, { bits: 8 });
      outs.push(a.values, a.codes, a.scales);
      outs.push(mbqReconstructionLoss(x, y, mask, mask, 0.5, 'mae'), uniformReconstructionLoss(x, y));
      outs.push(hadamardTransform(x), hadamardTransform(tf.slice(x, [0, 0], [6, 56]), { inverse: true }));
      await Promise.all(outs.map((t) => t.data()));
      tf.dispose(outs);
    };
    await run(); // warm-up: shader compilation, pipeline caches
    const tensorsBefore = tf.memory().numTensors;
    const idsBefore = tf.engine().backend.numDataIds();
    await run();
    // The one slice tensor created inside run() is not disposed: exactly one extra.
    expect(tf.memory().numTensors).toBe(tensorsBefore + 1);
    expect(tf.engine().backend.numDataIds()).toBe(idsBefore + 1);
  });
});
