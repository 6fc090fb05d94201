import type * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';

/** execute() (synchronous graph walk), or executeAsync() for graphs with control flow or dynamic shapes. */
export async function runGraph(model: GraphModel, feeds: tf.NamedTensorMap, outputs: string[]): Promise<tf.Tensor[]> {
  let out: tf.Tensor | tf.Tensor[];
  try {
    out = model.execute(feeds, outputs);
  } catch (e) {
    if (!/executeAsync/.test((e as Error).message)) throw e;
    out = await model.executeAsync(feeds, outputs);
  }
  return Array.isArray(out) ? out : [out];
}
