/**
 * A minimal stand-in for `tfjs-mbq convert` in tests: round-to-nearest W-bit group quantization of
 * the language model's linears of a graph model directory, emitted as MbqQuantizedMatMul nodes in
 * the converter's format (docs/architecture.md). No calibration, no scale search.
 */
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { packModel, readGraphModelWeights, writeGraphModel, type NodeDefJson, type WeightTensor } from '@tfjs-mbq/converter';
import { quantizeGroupwise } from '@tfjs-mbq/ops';

export async function rtnConvert(src: string, dst: string, opts: { bits: number; groupSize: number; prefix?: string }): Promise<number> {
  const { modelJson, weights } = await readGraphModelWeights(src);
  const prefix = opts.prefix ?? 'lm/';
  const nodes: NodeDefJson[] = [];
  const out = new Map<string, WeightTensor>(weights);
  let count = 0;
  for (const node of modelJson.modelTopology.node) {
    const w = node.op === 'MatMul' && node.name.startsWith(prefix) ? weights.get(node.input?.[1] ?? '') : undefined;
    if (!w || w.shape.length !== 2 || w.shape[0]! % opts.groupSize !== 0) { nodes.push(node); continue; }
    const [k, n] = w.shape as [number, number];
    const [packed, scales, zeros] = tf.tidy(() => {
      const r = quantizeGroupwise(tf.transpose(tf.tensor2d(w.data as Float32Array, [k, n])), opts);
      return [r.packed, r.scales, r.zeros];
    }) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const add = (name: string, t: tf.Tensor, dtype: 'int32' | 'float32'): string => {
      out.set(name, { name, shape: t.shape.slice(), dtype, data: t.dataSync() as Float32Array | Int32Array });
      nodes.push({ name, op: 'Const', attr: { dtype: { type: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' }, value: { tensor: { dtype: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT', tensorShape: { dim: t.shape.map((d) => ({ size: String(d) })) } } } } });
      return name;
    };
    const inputs = [node.input![0]!, add(`${node.name}/packed`, packed, 'int32'), add(`${node.name}/scales`, scales, 'float32'), add(`${node.name}/zeros`, zeros, 'float32')];
    tf.dispose([packed, scales, zeros]);
    nodes.push({ name: node.name, op: 'MbqQuantizedMatMul', input: inputs, attr: { T: { type: 'DT_FLOAT' }, bits: { i: String(opts.bits) }, group_size: { i: String(opts.groupSize) }, in_features: { i: String(k) } } });
    out.delete(node.input![1]!);
    count++;
  }
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  const kept = nodes.filter((n) => n.op !== 'Const' || used.has(n.name));
  const tensors = kept.filter((n) => n.op === 'Const').map((n) => out.get(n.name)!);
  const { modelJson: mj, shards } = packModel({ ...modelJson.modelTopology, node: kept }, tensors);
  await writeGraphModel(dst, mj, shards);
  for (const f of ['mbq.json', 'tokenizer.json', 'config.json']) await copyFile(join(src, f), join(dst, f)).catch(() => undefined);
  return count;
}
