/**
 * The model being converted, run on the calibration batch: the graph executor over the model state
 * (which the rotate and search stages change in place), the batch's feeds, and the float logits
 * taken before anything changed (the reference of the rotation and fold checks and the evaluation).
 * The only tensors that outlive a stage live here; dispose() frees them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphExecutor, type NodeOverride } from '../graph/executor.js';
import type { ModelState } from '../graph/fold.js';
import type { ModelIo } from '../graph/model_io.js';
import { batchFeeds, type CalibBatch } from '../calib/batch.js';
import { captionLoss, relativeError } from './metrics.js';

export class CalibRun {
  exec: GraphExecutor;
  readonly feeds: ReturnType<typeof batchFeeds>;
  readonly validRows: tf.Tensor1D;
  private floatLogits: tf.Tensor | undefined;
  private disposed = false;

  constructor(readonly state: ModelState, readonly batch: CalibBatch, readonly io: ModelIo) {
    this.exec = new GraphExecutor(state.graph, state.weights);
    this.feeds = batchFeeds(batch);
    this.validRows = tf.tensor1d(batch.validRows, 'int32');
  }

  /**
   * Runs the float model before anything changes, keeps its logits, and returns its caption loss.
   * Full-model passes stream the weights (one block's at a time as tensors), issue 6 §5.
   */
  async floatReference(): Promise<number> {
    this.floatLogits = this.logits();
    return captionLoss(this.floatLogits, this.batch);
  }

  /** The logits of the model as it is now (with node overrides); the caller frees them. */
  logits(nodeOverrides?: ReadonlyMap<string, NodeOverride>): tf.Tensor {
    return this.exec.execute(this.feeds, [this.io.logits], { nodeOverrides, streamConsts: true })[0];
  }

  /** The float reference logits (floatReference first). */
  get reference(): tf.Tensor {
    if (!this.floatLogits) throw new Error('CalibRun: floatReference() has not run');
    return this.floatLogits;
  }

  /** max |logits now - float logits| / max |float logits|. */
  async driftFromFloat(): Promise<number> {
    const now = this.logits();
    try {
      return await relativeError(now, this.reference);
    } finally {
      now.dispose();
    }
  }

  /** A new executor over the state (after a stage changed its graph or weights wholesale). */
  reset(): void {
    this.exec.dispose();
    this.exec = new GraphExecutor(this.state.graph, this.state.weights);
  }

  /** Frees every tensor of the run (the model state stays); a second call does nothing. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([this.feeds.input_ids, this.feeds.pixel_values, this.validRows]);
    this.floatLogits?.dispose();
    this.exec.dispose();
  }
}
