/**
 * The sensitivity pass as it was before streaming (main up to issue 12 §4): one tape over the whole
 * language model per chunk, every block's activations and weights held at once. Kept as the
 * reference the block-by-block pass must equal (sensitivity_stream.test.ts); returns the chunk
 * sums in streamedSiteSums's layout [site, sample, 2].
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphExecutor } from '../../src/graph/executor.js';
import type { GraphAnalysis } from '../../src/graph/analysis.js';
import type { ModelIo } from '../../src/graph/model_io.js';
import type { SensitivityChunk } from '../../src/sensitivity/streamed.js';
import { summedCaptionLoss } from '../../src/sensitivity/cross_entropy.js';
import { modalityMasks, modalitySums } from '../../src/sensitivity/modality_sums.js';

export async function wholeModelSiteSums(exec: GraphExecutor, analysis: GraphAnalysis, io: ModelIo, chunk: SensitivityChunk): Promise<Float32Array> {
  const first = analysis.blocks[0];
  const sideNames = [...new Set(analysis.blocks.flatMap((b) => b.sideInputs))];
  const sites = analysis.blocks.flatMap((b) => [
    { node: b.o, C: analysis.linears.get(b.o)!.N },
    { node: b.down, C: analysis.linears.get(b.down)!.N },
  ]);
  const { samples, seqLen: S } = chunk;
  const sumsTensor = tf.tidy(() => {
    const pre = exec.execute(chunk.feeds, [first.input, ...sideNames]);
    const blockFeeds = new Map<string, tf.Tensor>([[first.input, pre[0]], ...sideNames.map((n, j) => [n, pre[j + 1]] as [string, tf.Tensor])]);
    const probes = sites.map((s) => tf.zeros([samples.length, S, s.C]));
    const grads = tf.grads((...xs: tf.Tensor[]) => {
      const add = new Map(sites.map((s, j) => [s.node, xs[j]]));
      const [logits] = exec.execute(blockFeeds, [io.logits], { addToOutput: add, tidy: false });
      return summedCaptionLoss(logits, samples, S);
    })(probes);
    const masks = modalityMasks(samples, S);
    return tf.stack(grads.map((g) => modalitySums(g, masks)));
  });
  const sums = await sumsTensor.data() as Float32Array;
  sumsTensor.dispose();
  exec.releaseConsts();
  return sums;
}
