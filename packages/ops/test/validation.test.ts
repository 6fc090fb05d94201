import * as tf from '@tensorflow/tfjs-core';
import {
  dequantizeGroupwise, hadamardTransform, mbqReconstructionLoss, pseudoQuantize, quantizeActivationPerToken,
  quantizeGroupwise, registerMbqOps, uniformReconstructionLoss, MbqPseudoQuantize,
} from '@tfjs-mbq/ops';
import { useBackend } from './ops_test_util.js';

describe('op input validation (tfjs-style messages)', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  const w = (): tf.Tensor2D => tf.tensor2d([[1, 2, 3, 4], [5, 6, 7, 8]]);

  it('pseudoQuantize', () => {
    expect(() => pseudoQuantize(w(), { bits: 1, mode: 'sym-tensor' })).toThrow('Error in pseudoQuantize: bits must be an integer in [2, 8], got 1');
    expect(() => pseudoQuantize(w(), { bits: 9, mode: 'sym-tensor' })).toThrow(/bits must be an integer in \[2, 8\], got 9/);
    expect(() => pseudoQuantize(w(), { bits: 3.5, mode: 'sym-tensor' })).toThrow(/got 3.5/);
    expect(() => pseudoQuantize(w(), { bits: 4, mode: 'asym-group', groupSize: 3 })).toThrow('Error in pseudoQuantize: groupSize (3) must divide the input dimension K (4)');
    expect(() => pseudoQuantize(w(), { bits: 4, mode: 'asym-group' })).toThrow(/groupSize must be a positive integer, got undefined/);
    expect(() => pseudoQuantize(w(), { bits: 4, mode: 'sym-token', groupSize: 2 })).toThrow(/groupSize applies only to mode 'asym-group'/);
    expect(() => pseudoQuantize(w(), { bits: 4, mode: 'bogus' as never })).toThrow(/mode must be one of asym-group, sym-channel, sym-token, sym-tensor, got 'bogus'/);
    expect(() => pseudoQuantize(tf.zeros([2, 3, 4]), { bits: 4, mode: 'sym-channel' })).toThrow(/'x' must be rank 2, got shape \[2,3,4\]/);
    expect(() => pseudoQuantize(tf.tensor1d([1, 2], 'int32'), { bits: 4, mode: 'sym-tensor' })).toThrow("Error in pseudoQuantize: 'x' must have dtype float32, got int32");
    expect(() => pseudoQuantize(tf.zeros([0, 4]), { bits: 4, mode: 'sym-tensor' })).toThrow(/'x' must not be empty/);
    expect(() => pseudoQuantize([1, 2] as never, { bits: 4, mode: 'sym-tensor' })).toThrow(/'x' must be a tf.Tensor/);
  });

  it('quantizeGroupwise / dequantizeGroupwise', () => {
    expect(() => quantizeGroupwise(tf.zeros([4]), { bits: 4, groupSize: 2 })).toThrow(/Error in quantizeGroupwise: 'w' must be rank 2/);
    expect(() => quantizeGroupwise(w(), { bits: 4, groupSize: 3 })).toThrow(/groupSize \(3\) must divide the input dimension K \(4\)/);
    const q = quantizeGroupwise(w(), { bits: 3, groupSize: 2 });
    expect(() => dequantizeGroupwise(q.packed, q.scales, q.zeros, { bits: 3, groupSize: 2, inFeatures: 40 })).toThrow(/packed must be \[N, ceil\(inFeatures \* bits \/ 32\)\] = \[2, 4\]/);
    expect(() => dequantizeGroupwise(q.packed, q.scales, q.zeros, { bits: 3, groupSize: 4, inFeatures: 4 })).toThrow(/scales must be \[N, inFeatures \/ groupSize\] = \[2, 1\], got \[2,2\]/);
    expect(() => dequantizeGroupwise(tf.cast(q.packed, 'float32'), q.scales, q.zeros, { bits: 3, groupSize: 2, inFeatures: 4 })).toThrow(/'packed' must have dtype int32/);
    expect(() => dequantizeGroupwise(q.packed, q.scales, q.zeros, { bits: 3, groupSize: 2, inFeatures: 0 })).toThrow(/inFeatures must be a positive integer/);
  });

  it('quantizeActivationPerToken, losses, hadamardTransform', () => {
    expect(() => quantizeActivationPerToken(w(), { bits: 0 })).toThrow(/Error in quantizeActivationPerToken: bits must be/);
    const a = tf.zeros([2, 3, 4]);
    const ok = tf.zeros([2, 3]);
    expect(() => mbqReconstructionLoss(a, tf.zeros([2, 3, 5]), ok, ok, 1, 'mae')).toThrow(/reference \[2,3,4\] and output \[2,3,5\] must have the same shape/);
    expect(() => mbqReconstructionLoss(a, a, tf.zeros([5]), ok, 1, 'mae')).toThrow(/visionMask must have shape \[2,3\] \(the leading dims of reference\) or \[6\], got \[5\]/);
    expect(() => mbqReconstructionLoss(a, a, ok, ok, 1, 'l1' as never)).toThrow(/mode must be 'mae' or 'mse', got 'l1'/);
    expect(() => mbqReconstructionLoss(a, a, ok, ok, Number.NaN, 'mae')).toThrow(/ratio must be a finite number/);
    expect(() => uniformReconstructionLoss(a, tf.zeros([6, 4]))).toThrow(/Error in uniformReconstructionLoss: reference \[2,3,4\] and output \[6,4\]/);
    expect(() => hadamardTransform(tf.scalar(1))).toThrow(/Error in hadamardTransform: 'x' must have rank >= 1/);
  });

  it('registerMbqOps is idempotent and registers every kernel on every backend', () => {
    registerMbqOps();
    registerMbqOps();
    for (const backend of ['cpu', 'wasm', 'webgpu']) expect(tf.getKernel(MbqPseudoQuantize, backend)).toBeDefined();
    const names = ['MbqPseudoQuantize', 'MbqQuantizeGroupwise', 'MbqDequantizeGroupwise', 'MbqQuantizeActivationPerToken',
      'MbqReconstructionLoss', 'MbqUniformReconstructionLoss', 'MbqHadamardTransform'];
    for (const backend of ['cpu', 'wasm', 'webgpu']) {
      const registered = tf.getKernelsForBackend(backend).map((k) => k.kernelName);
      for (const n of names) expect(registered).toContain(n);
    }
  });
});
