/** Checks on the calibration batch: folding left the float model as it was; the quantized model against the float one. */
import * as tf from '@tensorflow/tfjs-core';
import { ConversionError } from '../io/errors.js';
import type { GraphAnalysis } from '../graph/analysis.js';
import type { QuantizedLinear } from '../emit/quantize.js';
import type { EvaluationRecord } from '../emit/quantization_json.js';
import type { CalibRun } from './calib_run.js';
import { captionLogProbs, meanOver, top1Matches } from './metrics.js';
import { quantizedOverrides } from './overrides.js';
import type { Progress } from './progress.js';

/** Folding the channel scales must not change the float model: returns the relative change of its logits. */
export async function checkFold(run: CalibRun): Promise<number> {
  const foldError = await run.driftFromFloat();
  if (foldError > 1e-3) {
    throw new ConversionError('GRAPH_ANALYSIS', `folding the channel scales changed the float logits by ${foldError.toExponential(2)} (relative); the graph's structure was not what the analysis assumed`);
  }
  return foldError;
}

/** Stage evaluate: caption loss and top-1 agreement of the quantized model (as the converter runs it) against the float one. */
export async function evaluateStage(
  run: CalibRun, analysis: GraphAnalysis, quantized: ReadonlyMap<string, QuantizedLinear>,
  reference: { captionLossFloat: number; foldRelativeError: number }, progress: Progress,
): Promise<EvaluationRecord> {
  progress('evaluate', 0, 1);
  const logProbs: tf.Tensor1D[] = [];
  const matches: tf.Tensor1D[] = [];
  try {
    await run.eachPass(quantizedOverrides(analysis, quantized), async (q, float, b0) => {
      logProbs.push(captionLogProbs(q, run.batch, b0));
      matches.push(top1Matches(q, float, run.batch, b0));
    });
  } catch (e) {
    tf.dispose([...logProbs, ...matches]);
    throw e;
  }
  const captionLossQuantized = -(await meanOver(logProbs));
  const top1AgreementCaption = await meanOver(matches);
  progress('evaluate', 1, 1);
  return {
    samples: run.batch.batch, tokens: run.batch.validRows.length, captionLossFloat: reference.captionLossFloat,
    captionLossQuantized, top1AgreementCaption, foldRelativeError: reference.foldRelativeError,
  };
}
