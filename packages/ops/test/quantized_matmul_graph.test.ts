import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import '@tfjs-mbq/ops';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { quantizedMatMulReference } from '../src/kernels/quantized_matmul_common.js';
import { mulberry32, randomLinear, randomX, referenceF64, relError } from './quantized_matmul_helpers.js';

/** A graph model y = MbqQuantizedMatMul(x, packed, scales, zeros) with Consts from a weights shard. */
function tinyModel(N: number, K: number, bits: number, g: number, seed: number) {
  const w = randomLinear(mulberry32(seed), N, K, bits, g);
  const words = w.packed.length / N;
  const G = K / g;
  const dims = (shape: number[]) => ({ dim: shape.map((s) => ({ size: String(s) })) });
  const constNode = (name: string, dtype: string, shape: number[]) => ({
    name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: dims(shape) } } },
  });
  const modelTopology = {
    node: [
      { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dims([-1, K]) } } },
      constNode('lm/layers.0/mlp/up_proj/packed', 'DT_INT32', [N, words]),
      constNode('lm/layers.0/mlp/up_proj/scales', 'DT_FLOAT', [N, G]),
      constNode('lm/layers.0/mlp/up_proj/zeros', 'DT_FLOAT', [N, G]),
      {
        name: 'y', op: 'MbqQuantizedMatMul',
        input: ['x', 'lm/layers.0/mlp/up_proj/packed', 'lm/layers.0/mlp/up_proj/scales', 'lm/layers.0/mlp/up_proj/zeros'],
        attr: { bits: { i: String(bits) }, group_size: { i: String(g) }, in_features: { i: String(K) }, act_bits: { i: '0' } },
      },
    ],
    versions: { producer: 1 },
    library: {},
  };
  const weightSpecs = [
    { name: 'lm/layers.0/mlp/up_proj/packed', shape: [N, words], dtype: 'int32' as const },
    { name: 'lm/layers.0/mlp/up_proj/scales', shape: [N, G], dtype: 'float32' as const },
    { name: 'lm/layers.0/mlp/up_proj/zeros', shape: [N, G], dtype: 'float32' as const },
  ];
  const shard = new Uint8Array(w.packed.byteLength + w.scales.byteLength + w.zeros.byteLength);
  shard.set(new Uint8Array(w.packed.buffer), 0);
  shard.set(new Uint8Array(w.scales.buffer), w.packed.byteLength);
  shard.set(new Uint8Array(w.zeros.buffer), w.packed.byteLength + w.scales.byteLength);
  const handler: tf.io.IOHandler = {
    load: async () => ({ modelTopology, weightSpecs, weightData: shard.buffer, format: 'graph-model', generatedBy: 'test', convertedBy: 'test' }),
  };
  return { w, handler };
}

describe.each(['cpu', 'webgpu'] as const)('loadGraphModel with MbqQuantizedMatMul nodes on %s', (backend) => {
  beforeAll(async () => { await initBackend(backend); });

  // One case on webgpu: each graph execution compiles tfjs programs, slow on lavapipe.
  it.each(backend === 'cpu' ? [[3, 128], [4, 32]] : [[3, 64]])('bits %i group %i matches the cpu reference', async (bits, g) => {
    const N = 37;
    const K = 256;
    const { w, handler } = tinyModel(N, K, bits, g, 17 + bits);
    const model = await loadGraphModel(handler);
    const x = randomX(mulberry32(5), 3, K);
    const y = model.execute(tf.tensor2d(x, [3, K]), 'y') as tf.Tensor;
    expect(y.shape).toEqual([3, N]);
    const got = await y.data();
    const ref = quantizedMatMulReference(x, w.packed, w.scales, w.zeros,
      { M: 3, N, K, groups: K / g, words: w.packed.length / N }, { bits, groupSize: g, inFeatures: K, actBits: 0 });
    expect(relError(got, ref)).toBeLessThan(2e-6);
    expect(relError(got, referenceF64(x, 3, w))).toBeLessThan(2e-6);
    model.dispose();
  });
});
