/**
 * The converter writes its output shards one at a time (issue 12 §4: a 7B model's output is never
 * in memory whole): the shards, made lazily, are the weights' bytes in graph order cut every
 * shardBytes, whatever the cut, as tfjs reads them back.
 */
import type { GraphDefJson, NodeDefJson } from '@tfjs-mbq/format';
import type { WeightMap } from '@tfjs-mbq/converter';
import { serialiseGraphModel } from '../src/emit/graph_model.js';

function constNode(name: string, shape: number[]): NodeDefJson {
  return { name, op: 'Const', attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } } } };
}

test('shards are the weights in graph order, cut every shardBytes, made one at a time', () => {
  const seed = (Date.now() % 1e9) >>> 0;
  console.log(`seed ${seed}`);
  let s = seed;
  const rand = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const weights: WeightMap = new Map();
  const nodes: NodeDefJson[] = [];
  for (let i = 0; i < 7; i++) {
    const shape = [1 + Math.floor(rand() * 9), 1 + Math.floor(rand() * 13)];
    const name = `w${i}`;
    nodes.push(constNode(name, shape));
    weights.set(name, { dtype: 'float32', shape, data: Float32Array.from({ length: shape[0]! * shape[1]! }, () => rand()) });
  }
  nodes.push(constNode('inline', [1])); // no weight: an inline constant, not in the manifest
  const graph = { node: nodes } as GraphDefJson;
  const all = Buffer.concat(nodes.filter((n) => weights.has(n.name)).map((n) => Buffer.from(weights.get(n.name)!.data.buffer)));
  for (const shardBytes of [4, 7, 64, 333, all.byteLength, all.byteLength + 5]) {
    const r = serialiseGraphModel(graph, weights, { generatedBy: 'test' }, shardBytes);
    const shards = [...r.shards];
    expect(shards.length).toBe(Math.ceil(all.byteLength / shardBytes));
    expect(r.paths.length).toBe(shards.length);
    expect(r.totalBytes).toBe(all.byteLength);
    expect(shards.every((x, i) => x.byteLength === (i < shards.length - 1 ? shardBytes : all.byteLength - shardBytes * (shards.length - 1)))).toBe(true);
    expect(Buffer.concat(shards).equals(all)).toBe(true);
    expect(r.modelJson.weightsManifest[0]!.weights.map((w) => w.name)).toEqual(['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6']);
  }
});
