/**
 * The model being converted, run on the calibration batch: the graph executor over the model state
 * (which the rotate and search stages change in place), the batch's feeds, and the float logits
 * taken before anything changed (the reference of the rotation and fold checks and the evaluation).
 * The only tensors that outlive a stage live here; dispose() frees them.
 *
 * Whole-model passes take every sample at once unless the batch's logits [B, S, vocab] would exceed
 * memoryLimits.logitsPassBytes (issue 12 §4: 128 samples of 650 tokens at vocab 32064 are 10.7 GB,
 * held for the whole conversion, and the passes' activations grow with B too). Then they run over
 * runs of samples (the batch's feeds sliced, same padded length, so every row is the one-pass row),
 * and the float logits stay on the host, in a scratch file above memoryLimits.spillAboveBytes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphExecutor, type NodeOverride } from '../graph/executor.js';
import type { ModelState } from '../graph/fold.js';
import type { ModelIo } from '../graph/model_io.js';
import { batchFeeds, type CalibBatch } from '../calib/batch.js';
import { FloatStore } from '../io/float_store.js';
import { DEFAULT_MEMORY_LIMITS, passSamples, type MemoryLimits } from '../memory_limits.js';
import { captionLogProbs, differenceMaxima, meanOver, relativeErrorOf } from './metrics.js';

/** One whole-model pass: samples b0 .. b0 + n - 1. */
interface Pass { b0: number; n: number }

export class CalibRun {
  exec: GraphExecutor;
  readonly feeds: ReturnType<typeof batchFeeds>;
  readonly validRows: tf.Tensor1D;
  /** Samples per whole-model pass (the batch's size unless its logits exceed the limit). */
  readonly passSize: number;
  /** The float logits: [B, S, V] on the device with one pass; each pass's on the host with several. */
  private floatLogits: tf.Tensor | undefined;
  private floatPasses: FloatStore | undefined;
  private disposed = false;

  /** `vocab`: the logits' width (config.json's), which sizes the passes; unknown: one pass. */
  constructor(
    readonly state: ModelState, readonly batch: CalibBatch, readonly io: ModelIo,
    vocab?: number, private readonly limits: MemoryLimits = DEFAULT_MEMORY_LIMITS,
  ) {
    this.exec = new GraphExecutor(state.graph, state.weights);
    this.feeds = batchFeeds(batch);
    this.validRows = tf.tensor1d(batch.validRows, 'int32');
    this.passSize = passSamples(batch.batch, batch.seqLen, vocab, limits.logitsPassBytes);
  }

  private get passes(): Pass[] {
    const out: Pass[] = [];
    for (let b0 = 0; b0 < this.batch.batch; b0 += this.passSize) out.push({ b0, n: Math.min(this.passSize, this.batch.batch - b0) });
    return out;
  }

  /** The logits of one pass of the model as it is now (with node overrides); the caller frees them. Full-model passes stream the weights (one block's at a time as tensors), issue 6 §5. */
  private passLogits({ b0, n }: Pass, nodeOverrides?: ReadonlyMap<string, NodeOverride>): tf.Tensor {
    if (n === this.batch.batch) {
      return this.exec.execute(this.feeds, [this.io.logits], { nodeOverrides, streamConsts: true })[0];
    }
    const ids = tf.slice(this.feeds.input_ids, [b0, 0], [n, -1]);
    const pixels = tf.slice(this.feeds.pixel_values, [b0, 0, 0, 0], [n, -1, -1, -1]);
    try {
      return this.exec.execute(new Map<string, tf.Tensor>([[this.io.inputIds, ids], [this.io.pixelValues, pixels]]), [this.io.logits], { nodeOverrides, streamConsts: true })[0];
    } finally {
      tf.dispose([ids, pixels]);
    }
  }

  /** Runs the float model before anything changes, keeps its logits, and returns its caption loss. */
  async floatReference(): Promise<number> {
    const passes = this.passes;
    if (passes.length === 1) {
      this.floatLogits = this.passLogits(passes[0]);
      return -(await meanOver([captionLogProbs(this.floatLogits, this.batch, 0)]));
    }
    const store = new FloatStore('float logits');
    this.floatPasses = store;
    const parts: tf.Tensor1D[] = [];
    try {
      for (const pass of passes) {
        const logits = this.passLogits(pass);
        try {
          parts.push(captionLogProbs(logits, this.batch, pass.b0));
          const data = await logits.data() as Float32Array;
          if (store.length === 0 && data.byteLength * (this.batch.batch / pass.n) > this.limits.spillAboveBytes) store.useScratchFile();
          store.push(data);
        } finally {
          logits.dispose();
        }
      }
    } catch (e) {
      tf.dispose(parts);
      throw e;
    }
    return -(await meanOver(parts));
  }

  /**
   * Runs the model as it is now (with node overrides) pass by pass; `visit` sees each pass's logits
   * and the float reference's for the same samples (both freed after it returns).
   */
  async eachPass(nodeOverrides: ReadonlyMap<string, NodeOverride> | undefined, visit: (now: tf.Tensor, float: tf.Tensor, b0: number) => Promise<void>): Promise<void> {
    if (!this.floatLogits && !this.floatPasses) throw new Error('CalibRun: floatReference() has not run');
    for (const [i, pass] of this.passes.entries()) {
      const now = this.passLogits(pass, nodeOverrides);
      const float = this.floatLogits ?? tf.tensor(this.floatPasses!.get(i), now.shape);
      try {
        await visit(now, float, pass.b0);
      } finally {
        now.dispose();
        if (float !== this.floatLogits) float.dispose();
      }
    }
  }

  /** max |logits now - float logits| / max |float logits|. */
  async driftFromFloat(): Promise<number> {
    const maxima: [number, number][] = [];
    await this.eachPass(undefined, async (now, float) => { maxima.push(await differenceMaxima(now, float)); });
    return relativeErrorOf(maxima);
  }

  /** A new executor over the state (after a stage changed its graph or weights wholesale). */
  reset(): void {
    this.exec.dispose();
    this.exec = new GraphExecutor(this.state.graph, this.state.weights);
  }

  /** Frees every tensor of the run and the float logits' scratch file (the model state stays); a second call does nothing. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([this.feeds.input_ids, this.feeds.pixel_values, this.validRows]);
    this.floatLogits?.dispose();
    this.floatPasses?.dispose();
    this.exec.dispose();
  }
}
