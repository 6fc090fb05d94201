import * as tf from '@tensorflow/tfjs-core';
import { quantizedMatMul } from '@tfjs-mbq/ops';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { quantizeActivationsInt8 } from '../src/kernels/quantized_matmul_common.js';
import { setQuantizedMatMulWebGPUOptions } from '../src/kernels/webgpu/quantized_matmul.js';
import { planQuantizedMatMul, QmmOptions, QmmVariant } from '../src/kernels/webgpu/quantized_matmul_plan.js';
import { QuantizedMatMulProgram } from '../src/kernels/webgpu/quantized_matmul_programs.js';
import { countCalls, gpuProto } from './ops_test_util.js';
import { cpuReference, mulberry32, randomLinear, RandomLinear, randomX, referenceAct8F64, referenceF64, relError, run } from './quantized_matmul_helpers.js';

const rand = mulberry32(20261126);

describe('quantizedMatMul on cpu (the exact reference)', () => {
  beforeAll(async () => { await initBackend('cpu'); });

  it('matches a hand-computed 3-bit example', () => {
    // W row 0 codes [1, 7, 0, 3] zero 2 scale 0.5 -> w = [-0.5, 2.5, -1, 0.5]; row 1 codes [4,4,4,4], zero 4 -> 0.
    const codes = [1, 7, 0, 3, 4, 4, 4, 4];
    let word0 = 0;
    let word1 = 0;
    codes.slice(0, 4).forEach((q, k) => { word0 |= q << (3 * k); });
    codes.slice(4).forEach((q, k) => { word1 |= q << (3 * k); });
    const y = quantizedMatMul(tf.tensor2d([[1, 2, 3, 4]]), tf.tensor2d([[word0], [word1]], [2, 1], 'int32'),
      tf.tensor2d([[0.5], [0.25]]), tf.tensor2d([[2], [4]]), { bits: 3, groupSize: 4, inFeatures: 4 });
    expect(Array.from(y.dataSync())).toEqual([-0.5 + 5 - 3 + 2, 0]);
  });

  it.each([[2, 16], [3, 16], [4, 8], [5, 40], [8, 80]])('bits %i group %i matches float64 on odd sizes', async (bits, g) => {
    const w = randomLinear(rand, 13, 80, bits, g);
    const x = randomX(rand, 2 * 3, 80);
    const y = await run(x, [2, 3, 80], w);
    expect(relError(y, referenceF64(x, 6, w))).toBeLessThan(1e-6);
  });

  it('W4A8 matches the float64 integer formula on the same int8 activations', async () => {
    const w = randomLinear(rand, 9, 64, 4, 64, true);
    const x = randomX(rand, 5, 64);
    const { q, scale } = quantizeActivationsInt8(x, 5, 64);
    const y = await run(x, [5, 64], w, 8);
    expect(relError(y, referenceAct8F64(q, scale, 5, w))).toBeLessThan(1e-6);
    // And it is a quantization of the float product, not something else.
    expect(relError(y, referenceF64(x, 5, w))).toBeLessThan(0.05);
  });

  it('rejects bad inputs with errors naming the op and the problem', () => {
    const w = randomLinear(rand, 4, 64, 3, 32);
    const p = tf.tensor2d(w.packed, [4, 6], 'int32');
    const s = tf.tensor2d(w.scales, [4, 2]);
    const z = tf.tensor2d(w.zeros, [4, 2]);
    const x = tf.zeros([2, 64]);
    const opts = { bits: 3, groupSize: 32, inFeatures: 64 };
    expect(() => quantizedMatMul(tf.zeros([2, 63]), p, s, z, opts)).toThrow(/quantizedMatMul.*last dimension of x \(63\)/);
    expect(() => quantizedMatMul(x, p, s, z, { ...opts, groupSize: 24 })).toThrow(/quantizedMatMul.*groupSize/);
    expect(() => quantizedMatMul(x, p, s, z, { ...opts, bits: 4 })).toThrow(/quantizedMatMul.*words per row/);
    expect(() => quantizedMatMul(x, p, s, z, { ...opts, bits: 9 })).toThrow(/quantizedMatMul.*bits/);
    expect(() => quantizedMatMul(x, tf.cast(p, 'float32'), s, z, opts)).toThrow(/quantizedMatMul.*'packed' must have dtype int32/);
    expect(() => quantizedMatMul(x, p, tf.reshape(s, [2, 4]), z, opts)).toThrow(/quantizedMatMul.*scales must have shape \[N, K\/groupSize\] = \[4, 2\]/);
    expect(() => quantizedMatMul(x, p, s, z, { ...opts, actBits: 8 })).toThrow(/quantizedMatMul.*actBits=8.*bits=4/);
    expect(() => quantizedMatMul(x, p, s, z, { ...opts, actBits: 4 as 8 })).toThrow(/quantizedMatMul.*actBits/);
  });
});

interface GpuCase { variant: QmmVariant; bits: number; M: number; N: number; K: number; g: number; opts?: QmmOptions }

const GEMV_CASES: GpuCase[] = [
  // M = 1 decode, M = 2..8 small batch, M = 11 (chunks of 8 + 3); several group spans.
  { variant: 'gemv', bits: 3, M: 1, N: 301, K: 1024, g: 128 },
  { variant: 'gemv', bits: 2, M: 1, N: 67, K: 384, g: 64 },
  { variant: 'gemv', bits: 4, M: 1, N: 67, K: 384, g: 24, opts: { gemvTS: 2 } },
  { variant: 'gemv', bits: 8, M: 1, N: 67, K: 512, g: 256 },
  { variant: 'gemv', bits: 5, M: 2, N: 33, K: 256, g: 32 },
  { variant: 'gemv', bits: 3, M: 3, N: 141, K: 384, g: 384, opts: { gemvTS: 1 } },
  { variant: 'gemv', bits: 4, M: 8, N: 130, K: 128, g: 16 },
  { variant: 'gemv', bits: 2, M: 5, N: 29, K: 128, g: 128 },
  { variant: 'gemv', bits: 8, M: 6, N: 45, K: 256, g: 32 },
  { variant: 'gemv', bits: 3, M: 11, N: 77, K: 256, g: 64 },
  { variant: 'gemv', bits: 4, M: 7, N: 9, K: 128, g: 128, opts: { gemvMT: 8, gemvR: 1 } },
];
// Small M, every bit width: groups per chunk (g % 32 == 0) and per octet (g = 8, 16, 24, 40, some
// straddling chunks), K tiles with a tail (chunks % TS != 0), several K tiles (the next tile's
// loads overlap), odd N, R > 1 and WG = 128. Few tokens per tile here: lavapipe compiles slowly
// per token of the tile (its workgroup-memory loads); M = 2..9 with the 8-token tile is the
// test after the cases.
const SMALLM_CASES: GpuCase[] = [
  { variant: 'smallm', bits: 2, M: 3, N: 33, K: 96, g: 16 },
  { variant: 'smallm', bits: 3, M: 2, N: 67, K: 256, g: 128 },
  { variant: 'smallm', bits: 4, M: 2, N: 45, K: 160, g: 32, opts: { smallmTS: 4 } },
  { variant: 'smallm', bits: 5, M: 2, N: 31, K: 192, g: 24 },
  { variant: 'smallm', bits: 6, M: 2, N: 19, K: 320, g: 40 },
  { variant: 'smallm', bits: 7, M: 2, N: 23, K: 64, g: 8 },
  { variant: 'smallm', bits: 8, M: 3, N: 37, K: 256, g: 64 },
  { variant: 'smallm', bits: 3, M: 4, N: 130, K: 512, g: 128, opts: { smallmR: 2, smallmWG: 128 } },
  { variant: 'smallm', bits: 4, M: 2, N: 40, K: 1024, g: 128, opts: { smallmR: 4, smallmTS: 4 } },
];
const GEMM_CASES: GpuCase[] = [
  { variant: 'gemm', bits: 3, M: 70, N: 75, K: 96, g: 32 },
  { variant: 'gemm', bits: 2, M: 65, N: 130, K: 64, g: 64 },
  { variant: 'gemm', bits: 4, M: 33, N: 63, K: 192, g: 24 },
  { variant: 'gemm', bits: 8, M: 129, N: 17, K: 32, g: 8 },
  { variant: 'gemm', bits: 7, M: 40, N: 66, K: 160, g: 80 },
];
const GENERIC_CASES: GpuCase[] = [
  { variant: 'generic', bits: 3, M: 3, N: 5, K: 100, g: 25 },
  { variant: 'generic', bits: 2, M: 2, N: 70, K: 36, g: 36 },
  { variant: 'generic', bits: 4, M: 1, N: 9, K: 150, g: 5 },
  { variant: 'generic', bits: 8, M: 4, N: 7, K: 90, g: 45 },
  { variant: 'generic', bits: 6, M: 2, N: 11, K: 77, g: 7 },
];

describe('quantizedMatMul on webgpu (every variant vs the cpu and float64 references)', () => {
  beforeAll(async () => { await initBackend('webgpu'); });
  afterAll(() => setQuantizedMatMulWebGPUOptions({}));

  it.each([...GEMV_CASES, ...SMALLM_CASES, ...GEMM_CASES, ...GENERIC_CASES].map((c) => [
    `${c.variant} bits=${c.bits} M=${c.M} N=${c.N} K=${c.K} g=${c.g}`, c,
  ] as const))('%s', async (_name, c) => {
    const dims = { M: c.M, N: c.N, K: c.K, groups: c.K / c.g, words: 0 };
    const attrs = { bits: c.bits, groupSize: c.g, inFeatures: c.K, actBits: 0 };
    expect(planQuantizedMatMul(dims, attrs, { ...c.opts, variant: c.variant }).variant).toBe(c.variant);
    setQuantizedMatMulWebGPUOptions({ ...c.opts, variant: c.variant, poisonOutput: true });
    const w = randomLinear(rand, c.N, c.K, c.bits, c.g);
    const x = randomX(rand, c.M, c.K);
    const y = await run(x, [c.M, c.K], w);
    expect(relError(y, cpuReference(x, c.M, w))).toBeLessThan(2e-6);
    expect(relError(y, referenceF64(x, c.M, w))).toBeLessThan(2e-6);
  });

  it('smallm with the 8-token tile matches the references for M = 2..9 (tile boundary: 8 + 1)', async () => {
    // One pipeline for every M (the tile is fixed at 8 tokens); K = 416: 13 chunks, tiles of 8 + 5.
    const [N, K, g] = [67, 416, 32];
    const w = randomLinear(rand, N, K, 3, g);
    const attrs = { bits: 3, groupSize: g, inFeatures: K, actBits: 0 };
    for (const M of [2, 3, 4, 5, 6, 7, 8, 9]) {
      const opts: QmmOptions = { variant: 'smallm', smallmMT: 8, poisonOutput: true };
      expect(planQuantizedMatMul({ M, N, K, groups: K / g, words: 0 }, attrs, opts).smallm).toEqual({ MT: 8, R: 1, TS: 8, WG: 256 });
      setQuantizedMatMulWebGPUOptions(opts);
      const x = randomX(rand, M, K);
      const y = await run(x, [M, K], w);
      expect(relError(y, cpuReference(x, M, w))).toBeLessThan(2e-6);
      expect(relError(y, referenceF64(x, M, w))).toBeLessThan(2e-6);
    }
  });

  it('picks gemv for decode, smallm for M = 2..8, gemm for long prompts and generic for odd K by default', () => {
    const attrs = { bits: 3, groupSize: 128, inFeatures: 4096, actBits: 0 };
    const plan = (M: number, K = 4096, actBits = 0) =>
      planQuantizedMatMul({ M, N: 4096, K, groups: 1, words: 0 }, { ...attrs, inFeatures: K, groupSize: K, actBits, bits: actBits ? 4 : 3 });
    expect(plan(1).variant).toBe('gemv');
    for (const M of [2, 5, 8]) {
      expect(plan(M).variant).toBe('smallm');
      expect(plan(M).smallm?.MT).toBe(M);
    }
    expect(plan(9).variant).toBe('gemv');
    expect(plan(4, 4096, 8).variant).toBe('onepass'); // W4A8 decode: one dispatch (quantized_matmul_onepass.test.ts)
    expect(plan(9, 4096, 8).variant).toBe('gemv'); // then the pre-pass and the integer gemv
    expect(plan(512).variant).toBe('gemm');
    expect(plan(1, 4100).variant).toBe('generic');
    expect(plan(4, 4100).variant).toBe('generic');
  });

  it('rejects a small-M tiling beyond 16 KiB of workgroup memory, naming it', () => {
    const dims = { M: 8, N: 64, K: 4096, groups: 32, words: 0 };
    const attrs = { bits: 3, groupSize: 128, inFeatures: 4096, actBits: 0 };
    expect(() => planQuantizedMatMul(dims, attrs, { variant: 'smallm', smallmTS: 32 })).toThrow(/small-M tiling .*"TS":32.*workgroup memory/);
  });

  it.each([
    ['gemv dot4I8Packed', { variant: 'gemv' as const, forceDot4: true }, 1, 256, 256],
    ['gemv emulated dot4', { variant: 'gemv' as const, disableDot4: true }, 2, 128, 128],
    ['gemv default, M=12 (three chunks of 4)', { variant: 'gemv' as const }, 12, 384, 128],
    ['generic dot4, odd K', { variant: 'generic' as const, forceDot4: true }, 3, 72, 72],
    ['generic emulated dot4, odd K', { variant: 'generic' as const, disableDot4: true }, 2, 100, 20],
  ])('W4A8 %s matches the references', async (_name, opts, M, K, g) => {
    setQuantizedMatMulWebGPUOptions({ ...opts, poisonOutput: true });
    const w = randomLinear(rand, 67, K, 4, g, g === K);
    const x = randomX(rand, M, K);
    const y = await run(x, [M, K], w, 8);
    const { q, scale } = quantizeActivationsInt8(x, M, K);
    expect(relError(y, cpuReference(x, M, w, 8))).toBeLessThan(1e-5);
    expect(relError(y, referenceAct8F64(q, scale, M, w))).toBeLessThan(1e-5);
  });

  it('runs inside tf.tidy with other ops and leaks no tensors', async () => {
    setQuantizedMatMulWebGPUOptions({});
    const w = randomLinear(rand, 40, 256, 3, 128);
    const x = randomX(rand, 2, 256);
    const before = tf.memory().numTensors;
    const y = tf.tidy(() => {
      const xt = tf.mul(tf.tensor2d(x, [2, 256]), 2);
      const out = quantizedMatMul(xt, tf.tensor2d(w.packed, [40, 24], 'int32'), tf.tensor2d(w.scales, [40, 2]),
        tf.tensor2d(w.zeros, [40, 2]), { bits: 3, groupSize: 128, inFeatures: 256 });
      return tf.add(out, 1);
    });
    const want = referenceF64(x.map((v) => 2 * v), 2, w).map((v) => v + 1);
    expect(relError(await y.data(), want)).toBeLessThan(2e-6);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  // Shapes whose direct pipelines the cases above compiled (lavapipe compiles each new shader
  // cold, which is slow), plus the 128x128 W3 layer the next two tests reuse.
  it.each([
    ['gemv W3 M=1', { bits: 3, M: 1, N: 128, K: 128, g: 128, actBits: 0 as const }],
    ['gemv W2 M=1 odd N', { bits: 2, M: 1, N: 67, K: 384, g: 64, actBits: 0 as const }],
    ['smallm W3 M=2', { bits: 3, M: 2, N: 67, K: 256, g: 128, actBits: 0 as const }],
    ['gemm W8 M=129', { bits: 8, M: 129, N: 17, K: 32, g: 8, actBits: 0 as const }],
    ['generic W6 odd K', { bits: 6, M: 2, N: 11, K: 77, g: 7, actBits: 0 as const }],
    ['W4A8 pre-pass + generic odd K', { bits: 4, M: 9, N: 67, K: 100, g: 20, actBits: 8 as const }],
    ['W4A8 onepass odd K', { bits: 4, M: 2, N: 67, K: 100, g: 20, actBits: 8 as const }],
  ])('direct dispatch and runWebGPUProgram give identical outputs: %s', async (_name, c) => {
    const w = randomLinear(rand, c.N, c.K, c.bits, c.g, c.actBits === 8);
    const x = randomX(rand, c.M, c.K);
    // GPU dispatches per call on either path: the matmul, and for W4A8 beyond M = 8 the activation quantizer before it.
    const dispatched = async (dispatch: 'direct' | 'program'): Promise<Float32Array> => {
      setQuantizedMatMulWebGPUOptions({ dispatch, poisonOutput: true });
      const { counts, restore } = countCalls([[gpuProto('GPUComputePassEncoder'), 'dispatchWorkgroups', 'dispatches']]);
      try {
        return await run(x, [c.M, c.K], w, c.actBits);
      } finally {
        restore();
        expect(counts.dispatches).toBe(c.actBits === 8 && c.M > 8 ? 2 : 1);
      }
    };
    const viaProgram = await dispatched('program');
    const direct = await dispatched('direct');
    expect(direct).toEqual(viaProgram);
    expect(relError(direct, cpuReference(x, c.M, w, c.actBits))).toBeLessThan(1e-5);
  });

  it('direct dispatch shares the pass with tfjs ops (chained, no validation error) and falls back under tf.time', async () => {
    setQuantizedMatMulWebGPUOptions({ poisonOutput: true });
    const device = (tf.backend() as unknown as { device: { pushErrorScope(f: 'validation'): void; popErrorScope(): Promise<unknown> } }).device;
    const w = randomLinear(rand, 128, 128, 3, 128);
    const p = tf.tensor2d(w.packed, [128, 12], 'int32');
    const s = tf.tensor2d(w.scales, [128, 1]);
    const z = tf.tensor2d(w.zeros, [128, 1]);
    const x = randomX(rand, 1, 128);
    const opts = { bits: 3, groupSize: 128, inFeatures: 128 };
    device.pushErrorScope('validation');
    // y1 is written by our dispatch and read by tf.add and by the next dispatch in the same pass.
    const step = (v: tf.Tensor): tf.Tensor => tf.add(quantizedMatMul(v, p, s, z, opts), v);
    const y = tf.tidy(() => step(step(tf.tensor2d(x, [1, 128]))));
    const got = await y.data();
    expect(await device.popErrorScope()).toBeNull();
    const y1 = referenceF64(x, 1, w).map((v, i) => v + x[i]);
    const want = referenceF64(Float32Array.from(y1), 1, w).map((v, i) => v + y1[i]);
    expect(relError(got, want)).toBeLessThan(1e-5);
    // Under tf.time, tfjs times each program in a pass of its own: the kernel takes runWebGPUProgram.
    let timed: tf.Tensor | undefined;
    await tf.time(() => { timed = quantizedMatMul(tf.tensor2d(x, [1, 128]), p, s, z, opts); });
    expect(relError(await timed!.data(), referenceF64(x, 1, w))).toBeLessThan(2e-6);
    [y, timed!, p, s, z].forEach((t) => t.dispose());
  });

  it('a decode loop creates no bind group, writes no uniform and compiles nothing after its first step', async () => {
    setQuantizedMatMulWebGPUOptions({});
    const layers = [randomLinear(rand, 128, 128, 3, 128), randomLinear(rand, 67, 384, 2, 64)];
    const weights = layers.map((w) => [tf.tensor2d(w.packed, [w.N, w.packed.length / w.N], 'int32'),
      tf.tensor2d(w.scales, [w.N, w.K / w.groupSize]), tf.tensor2d(w.zeros, [w.N, w.K / w.groupSize])] as const);
    const x0 = tf.tensor2d(randomX(rand, 1, 128), [1, 128]);
    const x1 = tf.tensor2d(randomX(rand, 1, 384), [1, 384]);
    // Per token: our two dispatches and tf.relu's (one bind group and one uniform write).
    const token = async (): Promise<Float32Array> => {
      const ys = tf.tidy(() => [
        quantizedMatMul(tf.relu(x0), ...weights[0], { bits: 3, groupSize: 128, inFeatures: 128 }),
        quantizedMatMul(x1, ...weights[1], { bits: 2, groupSize: 64, inFeatures: 384 }),
      ]);
      const data = Float32Array.from([...(await ys[0].data()), ...(await ys[1].data())]);
      ys.forEach((y) => y.dispose());
      return data;
    };
    const want = await token();
    await token();
    const { counts, restore } = countCalls([
      [gpuProto('GPUDevice'), 'createBindGroup', 'bindGroups'],
      [gpuProto('GPUQueue'), 'writeBuffer', 'writes'],
      [gpuProto('GPUDevice'), 'createComputePipeline', 'pipelines'],
    ]);
    let got: Float32Array[];
    try {
      got = [await token(), await token(), await token()];
    } finally {
      restore();
    }
    // Three tokens: tf.relu's three bind groups and uniform writes, nothing of ours.
    expect(counts).toEqual({ bindGroups: 3, writes: 3, pipelines: 0 });
    for (const g of got) expect(g).toEqual(want);
    [x0, x1, ...weights.flat()].forEach((t) => t.dispose());
  });

  it('repeated calls generate no WGSL, compile no pipeline and open no compute pass of their own', async () => {
    setQuantizedMatMulWebGPUOptions({});
    const w = randomLinear(rand, 40, 256, 3, 128);
    const inputs = [tf.tensor2d(randomX(rand, 1, 256), [1, 256]), tf.tensor2d(w.packed, [40, 24], 'int32'),
      tf.tensor2d(w.scales, [40, 2]), tf.tensor2d(w.zeros, [40, 2])] as const;
    const call = (): tf.Tensor => quantizedMatMul(...inputs, { bits: 3, groupSize: 128, inFeatures: 256 });
    const first = call();
    const want = await first.data(); // compiled; inputs uploaded; the backend's encoder submitted
    // Count what the next calls do, by wrapping the methods that the per-call work went through.
    const { counts, restore } = countCalls([
      [QuantizedMatMulProgram.prototype as unknown as Record<string, unknown>, 'getUserCode', 'wgsl'],
      [gpuProto('GPUDevice'), 'createComputePipeline', 'pipelines'],
      [gpuProto('GPUCommandEncoder'), 'beginComputePass', 'passes'],
    ]);
    let outs: tf.Tensor[];
    try {
      outs = Array.from({ length: 8 }, call);
    } finally {
      restore();
    }
    // tfjs keeps one compute pass open across dispatches until it submits (every 15 by default):
    // 8 queued calls begin at most one pass; the kernel before issue 17 began 8.
    expect(counts).toEqual({ wgsl: 0, pipelines: 0, passes: expect.any(Number) });
    expect(counts.passes).toBeLessThanOrEqual(1);
    for (const o of outs) expect(await o.data()).toEqual(want);
    [first, ...outs, ...inputs].forEach((t) => t.dispose());
  });
});
