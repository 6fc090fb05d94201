/**
 * One chunk's modality gradient sums (docs/algorithm.md §3), block by block with recomputation
 * (gradient checkpointing, issue 12 §4), so that the device holds one decoder block's weights and
 * activations at a time instead of a tape over the whole language model:
 * 1. forward: the pass to the first block's input (vision tower, projector, embedding: outside any
 *    tape, as before) and then block by block; each block boundary [B, S, C] is copied to the host;
 * 2. head: the summed caption loss from the last block's output (final norm, lm_head) and its
 *    gradient there;
 * 3. backward, last block to first: the block's input back on the device, the block recomputed
 *    under tf.grads with zero probes added to its o_proj and down_proj outputs, the upstream
 *    gradient pulled through it (tf.grads(f)(xs, dy)); the probes' gradients are reduced to their
 *    vision/caption sums and read back, the input's gradient goes upstream.
 * The boundaries live on the host, not the device: then the device holds a constant amount
 * whatever the depth (the host copy costs one readback and one upload of B·S·C floats per block,
 * small next to the block's weights, which are read again for the recomputation anyway); above a
 * size, in a scratch file (io/float_store.ts). The loss step runs a few samples at a time
 * (memory_limits.ts): a sample's gradient rows depend on its own logits only.
 * Exact: the tape of a block replays the whole-model tape's nodes for that block in the same order,
 * and a block output's accumulated gradient is complete before the whole-model backward reaches
 * the block, so every gradient is bit for bit the one-tape gradient (test: sensitivity_stream.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphExecutor } from '../graph/executor.js';
import type { GraphAnalysis } from '../graph/analysis.js';
import type { ModelIo } from '../graph/model_io.js';
import type { CalibSample } from '../calib/load.js';
import { ConversionError } from '../io/errors.js';
import { headGradient } from './head_gradient.js';
import { modalityMasks, modalitySums } from './modality_sums.js';
import type { DeviceWatch } from './device_watch.js';
import { FloatStore } from '../io/float_store.js';
import { DEFAULT_MEMORY_LIMITS, type MemoryLimits } from '../memory_limits.js';

/** Where a chunk's forward and backward passes begin: the graph inputs' feeds, the samples, the padded length. */
export interface SensitivityChunk {
  feeds: ReadonlyMap<string, tf.Tensor>;
  samples: readonly CalibSample[];
  seqLen: number;
}

function notFinite(where: string, what: string): ConversionError {
  return new ConversionError('BACKEND', `sensitivity: ${what} ${where} ${what.endsWith('s') ? 'are' : 'is'} not finite (NaN or Inf) on the ${tf.getBackend()} backend: the backend failed, or the float model overflows float32; no result was written`);
}

function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/**
 * Returns the chunk's sums laid out [site, sample, 2]: site 2i is block i's o_proj (attn), 2i + 1
 * its down_proj (mlp); per sample, sum |dLoss/dY| over vision rows, then over caption rows.
 */
export async function streamedSiteSums(
  exec: GraphExecutor, analysis: GraphAnalysis, io: ModelIo, chunk: SensitivityChunk, watch: DeviceWatch,
  memory: MemoryLimits = DEFAULT_MEMORY_LIMITS,
): Promise<Float32Array> {
  const { blocks } = analysis;
  const { samples, seqLen } = chunk;
  const B = samples.length;
  const sideNames = [...new Set(blocks.flatMap((b) => b.sideInputs))];
  const out = new Float32Array(blocks.length * 2 * B * 2);
  const held: tf.Tensor[] = [];
  let dy: tf.Tensor | undefined;
  const store = new FloatStore('block boundary');
  try {
    // 1. Forward. Boundary i is block i's input; boundary L the last block's output.
    let shape: number[] = [];
    let current: Float32Array = new Float32Array(0); // the newest boundary (not read back from a scratch file)
    const side = await watch.run('the pass to the first block', async () => {
      const pre = exec.execute(chunk.feeds, [blocks[0].input, ...sideNames], { streamConsts: true });
      held.push(...pre.slice(1));
      shape = pre[0].shape;
      current = await pre[0].data() as Float32Array;
      if ((blocks.length + 1) * current.byteLength > memory.spillAboveBytes) store.useScratchFile();
      store.push(current);
      pre[0].dispose();
      return new Map(sideNames.map((n, j) => [n, pre[j + 1]]));
    });
    for (const block of blocks) {
      await watch.run(`block ${block.index} (forward)`, async () => {
        const [y] = tf.tidy(() => {
          const x = tf.tensor(current, shape);
          return exec.execute(new Map([[block.input, x], ...side]), [block.output], { streamConsts: true });
        });
        const data = await y.data() as Float32Array;
        y.dispose();
        if (firstNonFinite(data) >= 0) throw notFinite(`of block ${block.index} (forward)`, 'the output');
        store.push(data);
        current = data;
      });
    }

    // 2. The loss's gradient at the last block's output, a few samples per step.
    const last = blocks[blocks.length - 1];
    const logitsOf = (x: tf.Tensor): tf.Tensor => exec.execute(new Map([[last.output, x], ...side]), [io.logits], { tidy: false })[0];
    dy = await watch.run('the caption loss (final norm, lm_head)', () => headGradient(logitsOf, current, shape, samples, memory.headLogitsBytes, {
      afterStep: () => exec.releaseConsts(),
      notFinite: () => notFinite('of the calibration chunk', 'the caption loss'),
    }));
    store.pop();
    current = new Float32Array(0);

    // 3. Backward, recomputing each block under a tape of its own.
    const masks = modalityMasks(samples, seqLen);
    held.push(masks.vision, masks.caption);
    for (let i = blocks.length - 1; i >= 0; i--) {
      const block = blocks[i];
      const upstream = dy as tf.Tensor; // from the head, then from the block above
      dy = await watch.run(`block ${block.index} (backward)`, async () => {
        const x = tf.tensor(store.get(i), shape);
        store.pop();
        const probes = [block.o, block.down].map((n) => tf.zeros([B, seqLen, analysis.linears.get(n)!.N]));
        // Block 0's input is not differentiated (nothing upstream reads its gradient).
        const withInput = i > 0;
        let grads: tf.Tensor[] = [];
        try {
          grads = tf.grads((...xs: tf.Tensor[]) => {
            const [input, attn, mlp] = withInput ? xs : [x, ...xs];
            const add = new Map([[block.o, attn], [block.down, mlp]]);
            return exec.execute(new Map([[block.input, input], ...side]), [block.output], { addToOutput: add, tidy: false })[0];
          })(withInput ? [x, ...probes] : probes, upstream);
          const [gAttn, gMlp] = grads.slice(withInput ? 1 : 0);
          const sums = tf.tidy(() => tf.stack([modalitySums(gAttn, masks), modalitySums(gMlp, masks)]));
          const data = await sums.data();
          sums.dispose();
          if (firstNonFinite(data) >= 0) throw notFinite(`at block ${block.index} (backward)`, 'the gradients');
          out.set(data, i * 2 * B * 2);
          return withInput ? grads[0] : undefined;
        } catch (e) {
          if (withInput) grads[0]?.dispose();
          throw e;
        } finally {
          tf.dispose([x, ...probes, ...grads.slice(withInput ? 1 : 0), upstream]);
          exec.releaseConsts();
        }
      });
    }
    return out;
  } finally {
    dy?.dispose();
    tf.dispose(held);
    exec.releaseConsts();
    store.dispose();
  }
}
