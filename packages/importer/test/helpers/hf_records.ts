/** transformers' records of a fixtures/hf checkpoint (fixtures/hf/README.md), and running an imported graph on them. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { SafetensorsFile } from '@tfjs-mbq/importer';

export interface RecordCase {
  index: number;
  question: string;
  input_ids: number[];
  image_token_offset: number;
  image_token_count: number;
  greedy_token_ids: number[];
  pixel_values_shape: number[];
  logits_shape: number[];
  /** Qwen2-VL: the processor's image_grid_thw. */
  image_grid_thw?: number[][];
}

export interface CaseTensors {
  /** NCHW as transformers returns it. */
  pixelValues: Float32Array;
  logits: Float32Array;
}

export async function readRecords(ckptDir: string): Promise<{ cases: RecordCase[]; tensors: (i: number) => Promise<CaseTensors> }> {
  const doc = JSON.parse(await readFile(join(ckptDir, 'records', 'records.json'), 'utf8')) as { cases: RecordCase[] };
  const file = join(ckptDir, 'records', 'records.safetensors');
  return {
    cases: doc.cases,
    tensors: async (i) => {
      const f = await SafetensorsFile.open(file);
      try {
        return { pixelValues: await f.readFloat32(`pixel_values.${i}`), logits: await f.readFloat32(`logits.${i}`) };
      } finally {
        await f.close();
      }
    },
  };
}

/** [1, C, H, W] -> [1, H, W, C]. */
export function nchwToNhwc(x: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) out[(y * w + xx) * c + ch] = x[(ch * h + y) * w + xx]!;
  return out;
}

interface ModelJsonLite {
  modelTopology: unknown;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

/** Plain tfjs: model.json and its shards through tf.io.fromMemory and loadGraphModel, nothing of the project. */
export async function loadPlain(dir: string): Promise<GraphModel> {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelJsonLite;
  const shards = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(dir, p))));
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology as never, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData, format: 'graph-model' }));
}

/** logits [1, S, V] of the graph for these pixels (NHWC) and ids. */
export async function runLogits(model: GraphModel, pixelsNhwc: Float32Array, size: [number, number], ids: number[]): Promise<Float32Array> {
  const pixels = tf.tensor4d(pixelsNhwc, [1, size[0], size[1], 3]);
  const input = tf.tensor2d(ids, [1, ids.length], 'int32');
  const out = model.execute({ pixel_values: pixels, input_ids: input }, 'logits') as tf.Tensor;
  const data = (await out.data()) as Float32Array;
  tf.dispose([pixels, input, out]);
  return data;
}

/** `n` greedy tokens through the full graph; `suppress` ids are never chosen (generate's min_new_tokens masks EOS). */
export async function greedy(model: GraphModel, pixelsNhwc: Float32Array, size: [number, number], prompt: number[], n: number, vocab: number, suppress: number[]): Promise<number[]> {
  const ids = prompt.slice();
  const out: number[] = [];
  for (let step = 0; step < n; step++) {
    const logits = await runLogits(model, pixelsNhwc, size, ids);
    const last = logits.subarray((ids.length - 1) * vocab, ids.length * vocab);
    let best = -1;
    for (let v = 0; v < vocab; v++) if (!suppress.includes(v) && (best < 0 || last[v]! > last[best]!)) best = v;
    out.push(best);
    ids.push(best);
  }
  return out;
}

/** max |a - b| and max |b|. */
export function maxDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}
