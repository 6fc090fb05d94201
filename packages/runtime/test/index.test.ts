import * as tf from '@tensorflow/tfjs-core';
import { GraphModel } from '@tensorflow/tfjs-converter';
import { GraphBuilder, attr } from '@tfjs-mbq/converter';
import { dequantizeGroupwise, mulberry32, quantizeGroupwise } from '@tfjs-mbq/ops';
import * as runtime from '@tfjs-mbq/runtime';

describe('@tfjs-mbq/runtime entry point', () => {
  beforeAll(async () => { await runtime.initBackend('cpu'); });

  it('re-exports registerMbqOps (idempotent) and the API', () => {
    expect(typeof runtime.registerMbqOps).toBe('function');
    expect(() => runtime.registerMbqOps()).not.toThrow();
    expect(typeof runtime.loadVlm).toBe('function');
    expect(typeof runtime.toPixelValues).toBe('function');
  });

  it('with the ops registered by import, a plain tfjs GraphModel runs an MbqQuantizedMatMul node', async () => {
    const rand = mulberry32(3);
    const [m, k, n] = [3, 24, 5];
    const w = tf.tensor2d(Float32Array.from({ length: n * k }, () => rand() * 2 - 1), [n, k]);
    const q = quantizeGroupwise(w, { bits: 3, groupSize: 8 });
    const b = new GraphBuilder();
    const x = b.placeholder('x', 'float32', [-1, k]);
    b.op('y', 'MbqQuantizedMatMul', [x,
      b.constant('packed', q.packed.dataSync() as Int32Array, q.packed.shape, 'int32'),
      b.constant('scales', q.scales.dataSync() as Float32Array, q.scales.shape),
      b.constant('zeros', q.zeros.dataSync() as Float32Array, q.zeros.shape),
    ], { T: attr.type('float32'), bits: attr.int(3), group_size: attr.int(8), in_features: attr.int(k) });
    const { modelJson, shards } = b.build();
    const model = new GraphModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology as never, weightSpecs: modelJson.weightsManifest[0]!.weights as never, weightData: shards[0]!.slice().buffer }));
    await model.load();
    const xv = tf.tensor2d(Float32Array.from({ length: m * k }, () => rand() * 2 - 1), [m, k]);
    const got = await (model.execute({ x: xv }, 'y') as tf.Tensor).data();
    const ref = await tf.matMul(xv, dequantizeGroupwise(q.packed, q.scales, q.zeros, { bits: 3, groupSize: 8, inFeatures: k }), false, true).data();
    for (let i = 0; i < m * n; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThan(1e-4);
  });
});
