/**
 * Issue 6 §5 (memory stays flat as blocks are added): a full forward pass of the converter's graph
 * executor must not hold every intermediate activation until the pass ends. The activations
 * alive when the last node runs are measured on residual chains of 4 and 32 blocks whose
 * activations are much larger than their weights (including temporaries made inside an op, e.g.
 * the reshapes of a rank-3 MatMul); they must not grow with the depth. The
 * results must equal the same pass without early release (tidy: false keeps everything).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { GraphBuilder, GraphExecutor, attr, type WeightMap } from '@tfjs-mbq/converter';

beforeAll(async () => { await initBackend('cpu'); });

const ROWS = 2048;
const C = 16;
const WIDE = 256;

/** x -> blocks of h = x + tanh(x·W_i) (a residual stream with fan-out), then y = Identity(h) * 2. */
function residualChain(blocks: number, seed: number, C = 16): { exec: GraphExecutor; constBytes: number } {
  const b = new GraphBuilder();
  let rnd = seed;
  const next = (): number => ((rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const F = { T: attr.type('float32') };
  let h = b.placeholder('x', 'float32', [-1, -1, C]);
  for (let i = 0; i < blocks; i++) {
    const w = b.constant(`b${i}/w`, Float32Array.from({ length: C * C }, () => next() * 0.5), [C, C]);
    const m = b.op(`b${i}/MatMul`, 'MatMul', [h, w], { ...F, transpose_a: attr.bool(false), transpose_b: attr.bool(false) });
    const t = b.op(`b${i}/Tanh`, 'Tanh', [m], F);
    const id = b.op(`b${i}/Identity`, 'Identity', [h], F);
    h = b.op(`b${i}/add`, 'AddV2', [id, t], F);
  }
  const two = b.constant('two', Float32Array.of(2), []);
  b.op('y', 'Mul', [h, two], F);
  const { modelJson, shards } = b.build();
  const bytes = new Uint8Array(Buffer.concat(shards));
  const weights: WeightMap = new Map();
  let off = 0;
  for (const w of modelJson.weightsManifest[0].weights) {
    const n = w.shape.reduce((a, d) => a * d, 1);
    weights.set(w.name, { dtype: 'float32', shape: w.shape, data: new Float32Array(bytes.slice(off, off + 4 * n).buffer) });
    off += 4 * n;
  }
  return { exec: new GraphExecutor(modelJson.modelTopology, weights), constBytes: off };
}

/** Bytes of live tensors at the moment the final node runs, beyond the feed and the cached weights. */
function liveActivationBytesAtEnd(blocks: number): { bytes: number; y: Float32Array; yKeepAll: Float32Array } {
  const { exec, constBytes } = residualChain(blocks, 17);
  // Rank 3: the MatMul of a [B, T, C] input by a [C, C] weight makes a temporary [B*T, C] inside the op.
  const x = tf.randomNormal([2, ROWS / 2, C], 0, 1, 'float32', 3);
  const base = tf.memory().numBytes;
  let atEnd = 0;
  const observe = new Map([['y', (inputs: tf.Tensor[]) => { atEnd = tf.memory().numBytes; return tf.mul(inputs[0], inputs[1]); }]]);
  const [y] = exec.execute({ x }, ['y'], { nodeOverrides: observe });
  const yv = y.dataSync() as Float32Array;
  const keepAll = tf.tidy(() => exec.execute({ x }, ['y'], { tidy: false })[0].dataSync() as Float32Array);
  tf.dispose([x, y]);
  exec.dispose();
  return { bytes: atEnd - base - constBytes, y: yv, yKeepAll: keepAll };
}

test('activations alive at the end of a pass do not grow with the number of blocks', () => {
  const activation = ROWS * C * 4;
  const shallow = liveActivationBytesAtEnd(4);
  const deep = liveActivationBytesAtEnd(32);
  // Alive at the last node: the final residual h (and the constant); everything before is done.
  expect(deep.bytes).toBeLessThanOrEqual(2 * activation);
  expect(deep.bytes).toBeLessThanOrEqual(shallow.bytes + activation / 4);
  expect(Array.from(deep.y)).toEqual(Array.from(deep.yKeepAll));
  expect(Array.from(shallow.y)).toEqual(Array.from(shallow.yKeepAll));
});

test('early release leaves no tensor behind and keeps fetched intermediates and feeds usable', () => {
  const { exec } = residualChain(6, 5);
  const x = tf.randomNormal([2, 32, C], 0, 1, 'float32', 9);
  const before = tf.memory().numTensors;
  // Fetch an intermediate that later nodes also read, an Identity alias of it, and the output.
  const [mid, alias, y] = exec.execute({ x }, ['b2/add', 'b3/Identity', 'y']);
  // The fetched tensors (Identity aliases its input: same tensor) and the 7 cached weights.
  expect(tf.memory().numTensors).toBe(before + new Set([mid, alias, y]).size + 7);
  expect(mid.isDisposed).toBe(false);
  expect(alias.isDisposed).toBe(false);
  expect(Array.from(alias.dataSync())).toEqual(Array.from(mid.dataSync()));
  expect(x.isDisposed).toBe(false);
  expect(y.shape).toEqual([2, 32, C]);
  tf.dispose([mid, alias, y, x]);
  exec.dispose();
  expect(tf.memory().numTensors).toBe(before - 1);
});

test('streamConsts: a pass holds about one block of weights, not the whole model, and caches none', () => {
  const run = (blocks: number, stream: boolean): { atEnd: number; peak: number; cachedAfter: number; y: number[] } => {
    const { exec } = residualChain(blocks, 23, WIDE);
    const x = tf.randomNormal([1, 4, WIDE], 0, 1, 'float32', 5);
    const base = tf.memory().numBytes;
    let peak = 0;
    // Observe the live bytes at every matmul (where a block's weight is in use).
    const observe = new Map<string, (inputs: tf.Tensor[]) => tf.Tensor>();
    for (let i = 0; i < blocks; i++) {
      observe.set(`b${i}/MatMul`, (inputs) => { peak = Math.max(peak, tf.memory().numBytes - base); return tf.matMul(inputs[0], inputs[1]); });
    }
    let atEnd = 0;
    observe.set('y', (inputs) => { atEnd = tf.memory().numBytes - base; return tf.mul(inputs[0], inputs[1]); });
    const before = tf.memory().numTensors;
    const [y] = exec.execute({ x }, ['y'], { nodeOverrides: observe, streamConsts: stream });
    const cachedAfter = tf.memory().numTensors - before - 1;
    const yv = Array.from(y.dataSync());
    tf.dispose([x, y]);
    exec.dispose();
    return { atEnd, peak, cachedAfter, y: yv };
  };
  const weight = WIDE * WIDE * 4;
  const shallow = run(4, true);
  const deep = run(32, true);
  expect(deep.cachedAfter).toBe(0);
  expect(deep.peak).toBeLessThanOrEqual(2 * weight);
  expect(deep.atEnd).toBeLessThanOrEqual(shallow.atEnd + weight / 8);
  const cached = run(32, false);
  expect(cached.cachedAfter).toBe(33);
  expect(cached.peak).toBeGreaterThan(16 * weight); // the cached weights of earlier blocks
  expect(deep.y).toEqual(cached.y);
});
