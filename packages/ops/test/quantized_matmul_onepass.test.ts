/**
 * The one-pass W4A8 variant of MbqQuantizedMatMul on webgpu (issue 17): one dispatch per call for
 * M <= 8, bit-identical to the cpu reference's exact-integer W4A8 semantics on fresh random inputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { quantizeActivationsInt8 } from '../src/kernels/quantized_matmul_common.js';
import { runProgram } from '../src/kernels/webgpu/direct_dispatch.js';
import { setQuantizedMatMulWebGPUOptions } from '../src/kernels/webgpu/quantized_matmul.js';
import { planQuantizedMatMul, QmmOptions } from '../src/kernels/webgpu/quantized_matmul_plan.js';
import { ActQuantProgram, mUniform } from '../src/kernels/webgpu/quantized_matmul_programs.js';
import { act8Words } from '../src/kernels/webgpu/quantized_matmul_wgsl.js';
import type { WebGPUBackendLike } from '../src/kernels/webgpu/program.js';
import { countCalls, freshSeed, gpuProto } from './ops_test_util.js';
import { cpuReference, mulberry32, randomLinear, randomX, referenceAct8F64, relError, run } from './quantized_matmul_helpers.js';

const seed = freshSeed();
const rand = mulberry32(seed);

/** One dispatch per call, and its output (the output poisoned with NaN first). */
async function runCounted(x: Float32Array, M: number, w: ReturnType<typeof randomLinear>, opts: QmmOptions): Promise<{ y: Float32Array; dispatches: number }> {
  setQuantizedMatMulWebGPUOptions({ ...opts, poisonOutput: true });
  const { counts, restore } = countCalls([[gpuProto('GPUComputePassEncoder'), 'dispatchWorkgroups', 'dispatches']]);
  try {
    const y = await run(x, [M, w.K], w, 8);
    return { y, dispatches: counts.dispatches };
  } finally {
    restore();
  }
}

// Odd K with groups ending inside a word (per-code group ends), odd N, one group per row spanning
// K tiles (256 codes), a tile tail with whole-word groups (g % 8 == 0); g = 128 at M = 5 below.
// Every M compiles a pipeline per path (MT is baked in) and lavapipe compiles slowly: the
// runWebGPUProgram path is checked at M = 1 and 8 only.
const SHAPES = [
  { N: 67, K: 100, g: 20 },
  { N: 33, K: 300, g: 300 },
  { N: 65, K: 520, g: 8 },
];

describe(`quantizedMatMul W4A8 one-pass on webgpu (seed ${seed})`, () => {
  beforeAll(async () => { await initBackend('webgpu'); });
  afterAll(() => setQuantizedMatMulWebGPUOptions({}));

  it('is the default for M = 1..8 and not beyond, nor for float activations', () => {
    const attrs = { bits: 4, groupSize: 128, inFeatures: 4096, actBits: 8 };
    const dims = (M: number) => ({ M, N: 4096, K: 4096, groups: 32, words: 512 });
    for (let M = 1; M <= 8; M++) expect(planQuantizedMatMul(dims(M), attrs).variant).toBe('onepass');
    expect(planQuantizedMatMul(dims(9), attrs).variant).toBe('gemv');
    expect(planQuantizedMatMul(dims(4), attrs, { onePassMaxM: 0 }).variant).toBe('gemv');
    expect(planQuantizedMatMul(dims(4), { ...attrs, actBits: 0, bits: 3 }).variant).toBe('smallm');
  });

  it.each(SHAPES.map((s) => [`N=${s.N} K=${s.K} g=${s.g}`, s] as const))(
    'M = 1..8, %s: one dispatch, bit-identical to the cpu reference', async (_name, s) => {
      const w = randomLinear(rand, s.N, s.K, 4, s.g, s.g === s.K);
      for (let M = 1; M <= 8; M++) {
        const x = randomX(rand, M, s.K);
        const want = cpuReference(x, M, w, 8);
        for (const dispatch of M === 1 || M === 8 ? ['direct', 'program'] as const : ['direct'] as const) {
          const { y, dispatches } = await runCounted(x, M, w, { dispatch });
          expect(dispatches).toBe(1);
          expect(y).toEqual(want);
        }
        const { q, scale } = quantizeActivationsInt8(x, M, s.K);
        expect(relError(want, referenceAct8F64(q, scale, M, w))).toBeLessThan(1e-5);
      }
    });

  it('forced beyond M = 8 takes token chunks of 8 along y (M = 11: 8 + 3), still one dispatch', async () => {
    const [N, K, g] = [67, 100, 20];
    const w = randomLinear(rand, N, K, 4, g);
    const x = randomX(rand, 11, K);
    const opts: QmmOptions = { variant: 'onepass' };
    expect(planQuantizedMatMul({ M: 11, N, K, groups: K / g, words: 13 }, { bits: 4, groupSize: g, inFeatures: K, actBits: 8 }, opts).onepass).toEqual({ MT: 8, WG: 64 });
    const { y, dispatches } = await runCounted(x, 11, w, opts);
    expect(dispatches).toBe(1);
    expect(y).toEqual(cpuReference(x, 11, w, 8));
  });

  it('agrees with the two-dispatch path, whose pre-pass gives the cpu reference\'s codes and scales bit for bit', async () => {
    const [M, N, K, g] = [5, 67, 384, 128];
    const w = randomLinear(rand, N, K, 4, g);
    const x = randomX(rand, M, K);
    const one = await runCounted(x, M, w, {});
    const two = await runCounted(x, M, w, { onePassMaxM: 0 });
    expect([one.dispatches, two.dispatches]).toEqual([1, 2]);
    expect(one.y).toEqual(cpuReference(x, M, w, 8));
    // The gemv adds its group terms in lane order, not group order: equal up to float32 rounding.
    expect(relError(two.y, one.y)).toBeLessThan(1e-6);
    // The pre-pass on its own: its packed codes (byte j of word t: x[(t/2)*8 + t%2 + 2j]) and scales.
    const b = tf.backend() as unknown as WebGPUBackendLike;
    const plan = planQuantizedMatMul({ M, N, K, groups: K / g, words: K / 8 }, { bits: 4, groupSize: g, inFeatures: K, actBits: 8 }, { onePassMaxM: 0 });
    const xt = tf.tensor2d(x, [M, K]);
    const out = runProgram(b, new ActQuantProgram(plan), [{ dataId: xt.dataId, shape: [M, K], dtype: 'float32' }], 'int32', mUniform(M));
    const words = new Int32Array(await tf.engine().makeTensorFromTensorInfo(out).data());
    const { q, scale } = quantizeActivationsInt8(x, M, K);
    const W8 = act8Words(K);
    const codes = new Int8Array(M * K);
    for (let m = 0; m < M; m++) {
      for (let t = 0; t < W8; t++) {
        for (let j = 0; j < 4; j++) codes[m * K + Math.floor(t / 2) * 8 + (t % 2) + 2 * j] = (words[m * W8 + t] << (24 - 8 * j)) >> 24;
      }
    }
    expect(codes).toEqual(q);
    expect(new Float32Array(words.buffer, M * W8 * 4, M)).toEqual(scale);
    xt.dispose();
  });
});
