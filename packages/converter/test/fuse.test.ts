/**
 * emit/fuse.ts: the decoder patterns of the fixture's float graph and of a converted (quantized,
 * GQA) graph become the fused ops, and the fused graph gives the same logits as the plain one
 * (cpu, relative 1e-5 of the largest |logit|: float32 sums in another order).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphModel } from '@tensorflow/tfjs-converter';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import '@tfjs-mbq/ops';
import { registerTfjsCoreGradients } from '../src/generated/tfjs_gradients.js';
import { attr, convert, GraphBuilder, GraphExecutor, loadModelDir, type GraphDefJson, type WeightMap } from '@tfjs-mbq/converter';
import { concatBytes, decodeWeights, FUSED_OPS } from '@tfjs-mbq/format';
import { fuseDecoderOps } from '../src/emit/fuse.js';
import { serialiseGraphModel } from '../src/emit/graph_model.js';
import { writeSyntheticModel } from './helpers/synthetic.js';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');

beforeAll(async () => { await initBackend('cpu'); registerTfjsCoreGradients(); });

async function graphModel(graph: GraphDefJson, weights: WeightMap): Promise<GraphModel> {
  const { modelJson, shards, totalBytes } = serialiseGraphModel(graph, weights, { generatedBy: 'test' });
  const data = new Uint8Array(totalBytes);
  let off = 0;
  for (const s of shards) { data.set(s, off); off += s.length; }
  const m = new GraphModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0]!.weights, weightData: data.buffer }));
  await m.load();
  return m;
}

function feeds(image: number, seq: number, seed: number): tf.NamedTensorMap {
  let s = seed;
  const r = (): number => ((s = (s * 16807) % 2147483647) / 2147483647);
  const ids = Int32Array.from({ length: seq }, (_, i) => (i === 0 ? 2 : 5 + Math.floor(r() * 30)));
  return { input_ids: tf.tensor2d(ids, [1, seq], 'int32'), pixel_values: tf.tensor4d(Float32Array.from({ length: image * image * 3 }, r), [1, image, image, 3]) };
}

async function relativeDiff(a: GraphModel, b: GraphModel, f: tf.NamedTensorMap): Promise<{ rel: number; scale: number }> {
  const ya = a.execute(f, 'logits') as tf.Tensor;
  const yb = b.execute(f, 'logits') as tf.Tensor;
  const scale = (await tf.max(tf.abs(ya)).data())[0]!;
  const diff = (await tf.max(tf.abs(tf.sub(ya, yb))).data())[0]!;
  tf.dispose([ya, yb]);
  return { rel: diff / scale, scale };
}

const opOf = (g: GraphDefJson, ref: string): string | undefined => g.node.find((n) => n.name === ref.replace(/:\d+$/, ''))?.op;

const opsOf = (g: GraphDefJson): Map<string, number> => {
  const m = new Map<string, number>();
  for (const n of g.node) m.set(n.op, (m.get(n.op) ?? 0) + 1);
  return m;
};

test('the fixture float graph: every norm, attention and SiLU gate of the decoder fused; same logits', async () => {
  const model = await loadModelDir(join(process.cwd(), 'fixtures/tiny-vlm'));
  const graph = model.modelJson.modelTopology;
  const before = JSON.stringify(graph);
  const weightNames = [...model.weights.keys()].sort();
  const fused = fuseDecoderOps(graph, model.weights);
  // The input is left as it was.
  expect(JSON.stringify(graph)).toBe(before);
  expect([...model.weights.keys()].sort()).toEqual(weightNames);
  // 4 layers: 2 RMSNorms each + the final one, and the 5 LayerNorms of the vision tower (RMSNorm of the centred x).
  // The 8 residual adds of the decoder went into the norm after each (the final norm's included);
  // the first block's norm reads the embeddings, the vision tower's LayerNorms a centred x.
  expect(fused.report).toMatchObject({ rmsNorm: 14, addRmsNorm: 8, attention: 4, siluGate: 4, mergedLinears: 8 });
  const ops = opsOf(fused.graph);
  expect(ops.get('MbqAddRmsNorm')).toBe(8);
  expect(ops.get('MbqRmsNorm')).toBe(6);
  // Each sum (output 1) is read by the next residual, i.e. the next MbqAddRmsNorm, but the last.
  const sumReaders = fused.graph.node.filter((n) => (n.input ?? []).some((r) => r.endsWith(':1') && opOf(fused.graph, r) === 'MbqAddRmsNorm'));
  expect(sumReaders.map((n) => n.op)).toEqual(new Array(7).fill('MbqAddRmsNorm'));
  expect(ops.get('MbqAttention')).toBe(4);
  // RoPE and the q/k/v split of each merged qkv in one node, its three outputs read by the attention.
  expect(ops.get('MbqRopeAppendKv')).toBe(4);
  expect(ops.get('MbqRope')).toBeUndefined();
  for (const att of fused.graph.node.filter((n) => n.op === 'MbqAttention')) {
    const [q, k, v] = att.input!;
    expect(opOf(fused.graph, q!)).toBe('MbqRopeAppendKv');
    expect([k, v]).toEqual([`${q}:1`, `${q}:2`]);
  }
  expect(ops.get('MbqSiluGate')).toBe(4);
  expect(ops.get('Softmax')).toBe(4); // the vision tower's attention (no mask) stays as it was
  expect(fused.report.nodesAfter).toBeLessThan(fused.report.nodesBefore / 2);
  // Every weight the fused graph reads is there, and nothing else.
  const consts = fused.graph.node.filter((n) => n.op === 'Const').map((n) => n.name).sort();
  expect([...fused.weights.keys()].sort()).toEqual(consts);
  const plain = await graphModel(graph, model.weights);
  const mine = await graphModel(fused.graph, fused.weights);
  for (const seq of [65, 72]) {
    const f = feeds(64, seq, 7 + seq);
    const { rel, scale } = await relativeDiff(plain, mine, f);
    expect(scale).toBeGreaterThan(0.5);
    expect(rel).toBeLessThan(1e-5);
    tf.dispose(Object.values(f));
  }
  // The converter's executor runs the fused graph through its tfjs compositions (graph/fused_ops.ts),
  // gradients included: same logits, and a finite, non-zero gradient to the image.
  const f = feeds(64, 70, 3);
  const exec = new GraphExecutor(fused.graph, fused.weights);
  const [viaExec] = exec.execute(f, ['logits']);
  const ref = plain.execute(f, 'logits') as tf.Tensor;
  const scale = (await tf.max(tf.abs(ref)).data())[0]!;
  expect((await tf.max(tf.abs(tf.sub(viaExec!, ref))).data())[0]! / scale).toBeLessThan(1e-5);
  const grad = tf.grad((px: tf.Tensor) => tf.sum(exec.execute({ ...f, pixel_values: px }, ['logits'])[0]!))(f.pixel_values!);
  const g = await grad.data();
  expect(g.every(Number.isFinite) && g.some((v) => v !== 0)).toBe(true);
  tf.dispose([viaExec!, ref, grad, ...Object.values(f)]);
  exec.dispose();
  plain.dispose();
  mine.dispose();
});

test('a converted W3 GQA model (rtn): --fuse and --no-fuse give the same logits; q/k/v and gate/up one MbqQuantizedMatMul each', async () => {
  const modelDir = await writeSyntheticModel({ layers: 2, seed: 5, kvHeads: 1 });
  const parent = mkdtempSync(join(tmpdir(), 'mbq-fuse-'));
  const outs: Record<string, string> = {};
  for (const fuse of [true, false]) {
    outs[String(fuse)] = join(parent, `fuse-${fuse}`);
    await convert({ modelDir, calibDir: CALIB, outDir: outs[String(fuse)]!, method: 'rtn', wBits: 3, samples: 2, fuse, backend: 'cpu' });
  }
  const read = (dir: string): { graph: GraphDefJson; mbq: Record<string, unknown> } => {
    const j = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    return { graph: j.modelTopology, mbq: j.userDefinedMetadata.mbq };
  };
  const fused = read(outs.true!), plain = read(outs.false!);
  expect(fused.mbq).toMatchObject({ fuse: true, requiresOps: '@tfjs-mbq/ops' });
  const fo = opsOf(fused.graph), po = opsOf(plain.graph);
  for (const op of FUSED_OPS) expect(po.get(op)).toBeUndefined();
  expect(fo.get('MbqAttention')).toBe(2);
  expect(fo.get('MbqRopeAppendKv')).toBe(2);
  expect(fo.get('MbqRope')).toBeUndefined();
  expect(fo.get('MbqSiluGate')).toBe(2);
  expect(fo.get('MbqAddRmsNorm')).toBe(4); // 2 residual adds a layer, each into the norm after it
  // 7 linears per layer -> qkv, o, gate_up, down.
  expect(po.get('MbqQuantizedMatMul')! - fo.get('MbqQuantizedMatMul')!).toBe(2 * 3);
  const a = await loadModelDir(outs.true!), b = await loadModelDir(outs.false!);
  const ma = await graphModel(a.modelJson.modelTopology, a.weights), mb = await graphModel(b.modelJson.modelTopology, b.weights);
  const f = feeds(32, 30, 11);
  const { rel, scale } = await relativeDiff(ma, mb, f);
  expect(scale).toBeGreaterThan(0.01);
  expect(rel).toBeLessThan(1e-5);
  tf.dispose(Object.values(f));
  ma.dispose();
  mb.dispose();
  // A fused model is not converted again: one line naming the node.
  await expect(convert({ modelDir: outs.true!, calibDir: CALIB, outDir: join(parent, 'again'), method: 'rtn', samples: 2, backend: 'cpu' }))
    .rejects.toThrow(/is a fused Mbq\w+ \(written by tfjs-mbq convert, or by import's --fuse\); convert the unfused float model instead/);
});

/** RMSNorm as written by a graph export: Mul(Mul(x, Rsqrt(Add(Mean(Square(x), -1, keep), eps))), gamma). */
function rmsNormNodes(b: GraphBuilder, name: string, x: string, C: number, seed: number): string {
  const F = { T: attr.type('float32') };
  const sq = b.op(`${name}/sq`, 'Square', [x], F);
  const mean = b.op(`${name}/mean`, 'Mean', [sq, b.constant(`${name}/axis`, Int32Array.of(-1), [1], 'int32')], { ...F, keep_dims: attr.bool(true) });
  const e = b.op(`${name}/eps`, 'AddV2', [mean, b.constant(`${name}/eps_c`, Float32Array.of(1e-6), [])], F);
  const xr = b.op(`${name}/xr`, 'Mul', [x, b.op(`${name}/rsqrt`, 'Rsqrt', [e], F)], F);
  return b.op(name, 'Mul', [xr, b.constant(`${name}/weight`, Float32Array.from({ length: C }, (_, i) => 0.5 + ((i * 7 + seed) % 11) / 10), [C])], F);
}

test('residual adds: an Add of two activations goes into the norm reading it, its other readers read the sum; a Const operand or a kept name stays an Add', async () => {
  const C = 12;
  const F = { T: attr.type('float32') };
  const b = new GraphBuilder();
  const x = b.placeholder('x', 'float32', [-1, 3, C]);
  const y = b.placeholder('y', 'float32', [-1, 3, C]);
  const n1 = rmsNormNodes(b, 'n1', b.op('biased', 'AddV2', [x, b.constant('bias', Float32Array.from({ length: C }, (_, i) => i / 10), [C])], F), C, 1);
  const h = b.op('h', 'AddV2', [x, y], F);
  const n2 = rmsNormNodes(b, 'n2', h, C, 2);
  const h2 = b.op('h2', 'AddV2', [h, n2], F); // reads the sum and the norm
  const n3 = rmsNormNodes(b, 'n3', h2, C, 3);
  b.op('out', 'AddN', [n1, n3, h2], { ...F, N: attr.int(3) });
  const { modelJson, shards } = b.build();
  const weights: WeightMap = decodeWeights({ modelJson, where: 'model.json', groups: [{ bytes: concatBytes(shards), shards: [] }] });
  const graph = modelJson.modelTopology;
  const run = (g: GraphDefJson, w: WeightMap): Promise<Float32Array> => graphModel(g, w).then(async (m) => {
    const f = { x: tf.tensor3d(Float32Array.from({ length: 2 * 3 * C }, (_, i) => Math.sin(i)), [2, 3, C]), y: tf.tensor3d(Float32Array.from({ length: 2 * 3 * C }, (_, i) => Math.cos(3 * i)), [2, 3, C]) };
    const out = m.execute(f, 'out') as tf.Tensor;
    const v = (await out.data()) as Float32Array;
    tf.dispose([out, f.x, f.y]);
    m.dispose();
    return v;
  });
  const plain = await run(graph, weights);
  // h2 is named by the signature: kept, so n3 stays a plain MbqRmsNorm.
  const fused = fuseDecoderOps(graph, weights, new Set(['h2']));
  expect(fused.report).toMatchObject({ rmsNorm: 3, addRmsNorm: 1 });
  const byName = new Map(fused.graph.node.map((n) => [n.name, n]));
  expect(byName.get('n1')!.op).toBe('MbqRmsNorm'); // x + a Const bias stays an Add
  expect(byName.get('n2')).toMatchObject({ op: 'MbqAddRmsNorm', input: ['x', 'y', 'n2/weight'] });
  expect(byName.has('h')).toBe(false);
  expect(byName.get('h2')!.input).toEqual(['n2:1', 'n2']);
  expect(byName.get('n3')).toMatchObject({ op: 'MbqRmsNorm', input: ['h2', 'n3/weight'] });
  const got = await run(fused.graph, fused.weights);
  expect(got.length).toBe(plain.length);
  for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - plain[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(plain[i]!)));
  // Without the signature's name, h2 goes into n3 as well.
  expect(fuseDecoderOps(graph, weights).report).toMatchObject({ rmsNorm: 3, addRmsNorm: 2 });
});
