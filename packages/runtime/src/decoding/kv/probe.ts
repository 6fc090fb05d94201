/**
 * Runs the prefill graph at two sequence lengths (S1 and S1 + 1) and records every node's output
 * shape: axes that grow by one are sequence axes. The S1 + 1 logits also serve to check the step.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { GraphModelFiles } from '../../model_files.js';
import type { MbqConfig } from '../../mbq_config.js';
import { runGraph } from '../run_graph.js';
import { analyseDependencies, type ProbedNode } from './graph_info.js';

export interface ProbeResult {
  info: Map<string, ProbedNode>;
  order: string[];
  /** The longer probe sequence, its image, and its last-position logits from a full run. */
  ids: number[];
  pixels: tf.Tensor4D;
  lastLogits: Float32Array;
}

/** A prompt-shaped probe sequence: BOS, ordinary tokens up to the image offset, image tokens, then `extra` ordinary tokens. */
function probeIds(config: MbqConfig, vocabSize: number, extra: number): number[] {
  const special = new Set([config.bosTokenId, config.eosTokenId, config.imageTokenId]);
  const lead = config.imageTokenOffset - 1;
  const words: number[] = [];
  for (let t = 0; words.length < lead + extra; t++) {
    const id = (7 + 5 * t) % vocabSize;
    if (!special.has(id)) words.push(id);
  }
  return [config.bosTokenId, ...words.slice(extra), ...new Array<number>(config.imageTokenCount).fill(config.imageTokenId), ...words.slice(0, extra)];
}

export async function probeGraph(model: GraphModel, files: GraphModelFiles, logitsName: string, config: MbqConfig, vocabSize: number): Promise<ProbeResult> {
  const nodes = files.json.modelTopology.node;
  const deps = analyseDependencies(nodes);
  const order = [...deps.keys()];
  const specs = new Map(files.weightSpecs.map((s) => [s.name, s]));
  const weightIds = new Set(Object.values(model.weights).flat().map((t) => t.id));
  // Shapes matter for nodes that depend on input_ids and for the image-only nodes they read.
  const readByDynamic = new Set([...deps.values()].filter((d) => d.dynamic).flatMap((d) => d.inputs.map((r) => r.replace(/:\d+$/, ''))));
  const computed = nodes
    .filter((n) => n.op !== 'Const' && n.op !== 'Placeholder' && n.op !== 'NoOp')
    .filter((n) => deps.get(n.name)!.dynamic || readByDynamic.has(n.name))
    .map((n) => n.name);
  const [h, w] = config.imageSize;
  const pixels = tf.tidy(() => tf.mul(tf.ones([1, h, w, 3]), tf.linspace(0.1, 0.9, 3)) as tf.Tensor4D);
  const ids2 = probeIds(config, vocabSize, 3);
  const shapes: Array<Map<string, { shape: number[]; dtype: string }>> = [];
  let lastLogits = new Float32Array(0);
  for (const ids of [ids2.slice(0, -1), ids2]) {
    const inputIds = tf.tensor2d(ids, [1, ids.length], 'int32');
    const feeds = { pixel_values: pixels, input_ids: inputIds };
    const outs = await runGraph(model, feeds, computed);
    const m = new Map<string, { shape: number[]; dtype: string }>();
    computed.forEach((name, k) => m.set(name, { shape: outs[k]!.shape.slice(), dtype: outs[k]!.dtype }));
    m.set('input_ids', { shape: inputIds.shape.slice(), dtype: 'int32' });
    m.set('pixel_values', { shape: pixels.shape.slice(), dtype: 'float32' });
    const logits = outs[computed.indexOf(logitsName.split(':')[0]!)];
    if (logits) {
      const v = logits.shape[2]!;
      lastLogits = (await logits.data() as Float32Array).slice((ids.length - 1) * v, ids.length * v);
    }
    for (const t of outs) if (!weightIds.has(t.id)) t.dispose();
    inputIds.dispose();
    shapes.push(m);
  }
  const info = new Map<string, ProbedNode>();
  for (const [name, d] of deps) {
    const spec = specs.get(name);
    const s1 = spec ? { shape: spec.shape, dtype: spec.dtype } : shapes[0]!.get(name);
    const s2 = spec ? { shape: spec.shape, dtype: spec.dtype } : shapes[1]!.get(name);
    info.set(name, { ...d, shape1: s1?.shape ?? null, shape2: s2?.shape ?? null, dtype: s1?.dtype ?? null });
  }
  return { info, order, ids: ids2, pixels, lastLogits };
}
