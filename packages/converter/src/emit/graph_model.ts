/**
 * Writes the converted graph: quantized linears become `MbqQuantizedMatMul` nodes reading packed
 * int32 codes, scales and zeros (docs/architecture.md), or, with `float`, plain MatMuls whose
 * weights are the dequantized values. Deterministic: node order and weight order follow the graph.
 */
import { encodeQuantizedMatMulAttrs, groupsPerRow, MBQ_QUANTIZED_MATMUL_OP, wordsPerRow } from '@tfjs-mbq/format';
import type { GraphDefJson, ModelJson, NodeDefJson, WeightEntryJson } from '../graph/types.js';
import { bytesPerElement } from '../io/weights.js';
import type { WeightArray, WeightMap } from '../io/weights.js';
import { copyWeights, weightInfo } from '../io/lazy_weights.js';
import type { LinearInfo } from '../graph/analysis.js';
import { dataInputs } from '../graph/attrs.js';
import { cloneGraph } from '../graph/fold.js';
import type { QuantizedLinear } from './quantize.js';

export type EmitMode = 'quantized' | 'float';

function constNode(name: string, dtype: 'DT_FLOAT' | 'DT_INT32', shape: number[]): NodeDefJson {
  return {
    name, op: 'Const',
    attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } } },
  };
}

function toLayout(l: LinearInfo, nk: Float32Array): Float32Array {
  if (!l.weightKN) return nk;
  const out = new Float32Array(l.N * l.K);
  for (let k = 0; k < l.K; k++) for (let n = 0; n < l.N; n++) out[k * l.N + n] = nk[n * l.K + k];
  return out;
}

/** The converted graph and its weights (plain data), before serialisation. */
export function convertedGraph(
  graph: GraphDefJson, weights: WeightMap, linears: ReadonlyMap<string, LinearInfo>,
  quantized: ReadonlyMap<string, QuantizedLinear>, mode: EmitMode, dequantized: ReadonlyMap<string, Float32Array> = new Map(),
): { graph: GraphDefJson; weights: WeightMap } {
  const g = cloneGraph(graph);
  const w: WeightMap = copyWeights(weights); // a lazy map stays on disk
  const nodes: NodeDefJson[] = [];
  for (const node of g.node) {
    const q = quantized.get(node.name);
    if (!q) { nodes.push(node); continue; }
    const l = linears.get(node.name)!;
    if (mode === 'float') {
      const dq = dequantized.get(node.name);
      if (!dq) throw new Error(`emit: ${node.name}: --emit float needs its dequantized weight`);
      w.set(l.weightConst, { dtype: 'float32', shape: [...weightInfo(weights, l.weightConst)!.shape], data: toLayout(l, dq) });
      nodes.push(node);
      continue;
    }
    const base = node.name;
    const words = wordsPerRow(q.K, q.bits);
    const groups = groupsPerRow(q.K, q.groupSize);
    if (q.packed.length !== q.N * words) throw new Error(`emit: ${base}: ${q.packed.length} packed words for ${q.N} rows of ${words}`);
    nodes.push(constNode(`${base}/packed`, 'DT_INT32', [q.N, words]));
    nodes.push(constNode(`${base}/scales`, 'DT_FLOAT', [q.N, groups]));
    nodes.push(constNode(`${base}/zeros`, 'DT_FLOAT', [q.N, groups]));
    w.set(`${base}/packed`, { dtype: 'int32', shape: [q.N, words], data: q.packed });
    w.set(`${base}/scales`, { dtype: 'float32', shape: [q.N, groups], data: q.scales });
    w.set(`${base}/zeros`, { dtype: 'float32', shape: [q.N, groups], data: q.zeros });
    const attr = encodeQuantizedMatMulAttrs({ bits: q.bits, groupSize: q.groupSize, inFeatures: q.K, actBits: q.actBits ? 8 : 0 });
    const x = dataInputs(node)[0];
    const qName = l.biasConst ? `${base}/mbq_quantized` : base;
    nodes.push({ name: qName, op: MBQ_QUANTIZED_MATMUL_OP, input: [x, `${base}/packed`, `${base}/scales`, `${base}/zeros`], attr });
    if (l.biasConst) nodes.push({ name: base, op: 'BiasAdd', input: [qName, l.biasConst], attr: { T: { type: 'DT_FLOAT' } } });
  }
  g.node = nodes;
  // Drop constants nothing reads any more (the float weights of quantized linears).
  const used = new Set(g.node.flatMap((n) => dataInputs(n)));
  g.node = g.node.filter((n) => n.op !== 'Const' || used.has(n.name));
  const kept = new Set(g.node.map((n) => n.name));
  for (const k of [...w.keys()]) if (!kept.has(k)) w.delete(k);
  return { graph: g, weights: w };
}

/**
 * model.json and its shards (<= shardBytes each) for a graph whose Const values are in `weights`.
 * The shards come one at a time, each filled from the weights as it is made (a lazy weight map
 * reads each weight once), so the output is never in memory whole.
 */
export function serialiseGraphModel(
  graph: GraphDefJson, weights: WeightMap, meta: { generatedBy: string; userDefinedMetadata?: Record<string, unknown> }, shardBytes = 4 * 1024 * 1024,
): { modelJson: ModelJson; shards: Iterable<Uint8Array>; paths: string[]; totalBytes: number } {
  const entries: WeightEntryJson[] = [];
  let total = 0;
  for (const n of graph.node) {
    if (n.op !== 'Const') continue;
    const info = weightInfo(weights, n.name);
    if (!info) continue; // inline constant
    entries.push({ name: n.name, shape: [...info.shape], dtype: info.dtype });
    total += info.shape.reduce((a, b) => a * b, 1) * bytesPerElement(info.dtype);
  }
  const count = Math.max(1, Math.ceil(total / shardBytes));
  const paths = Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
  const modelJson: ModelJson = {
    format: 'graph-model',
    generatedBy: meta.generatedBy,
    convertedBy: 'tfjs-mbq convert',
    modelTopology: graph,
    weightsManifest: [{ paths, weights: entries }],
    ...(meta.userDefinedMetadata ? { userDefinedMetadata: meta.userDefinedMetadata } : {}),
  };
  return { modelJson, shards: shardsOf(weights, entries, total, shardBytes), paths, totalBytes: total };
}

/** The concatenated bytes of `entries`' weights, cut every shardBytes. */
function* shardsOf(weights: WeightMap, entries: readonly WeightEntryJson[], total: number, shardBytes: number): Generator<Uint8Array> {
  let shard = new Uint8Array(Math.min(shardBytes, total));
  let filled = 0;
  let emitted = 0;
  for (const e of entries) {
    const w: WeightArray = weights.get(e.name)!;
    const bytes = new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength);
    let at = 0;
    while (at < bytes.byteLength) {
      const take = Math.min(bytes.byteLength - at, shard.byteLength - filled);
      shard.set(bytes.subarray(at, at + take), filled);
      at += take;
      filled += take;
      if (filled === shard.byteLength) {
        yield shard;
        emitted += filled;
        shard = new Uint8Array(Math.min(shardBytes, total - emitted));
        filled = 0;
      }
    }
  }
  if (emitted === 0 && total === 0) yield shard; // no weights: one empty shard, as before
}
