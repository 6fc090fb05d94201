/** Stage rotate (--rotate): the Hadamard rotation folded into the model, checked to leave the float logits as they were. */
import { ConversionError } from '../io/errors.js';
import type { GraphAnalysis } from '../graph/analysis.js';
import { applyRotation, type RotationRecord } from '../rotate/apply.js';
import type { CalibRun } from './calib_run.js';
import type { Progress } from './progress.js';

export async function rotateStage(run: CalibRun, analysis: GraphAnalysis, seed: number, progress: Progress): Promise<RotationRecord> {
  progress('rotate', 0, 1);
  const rotation = await applyRotation(run.state, analysis, seed);
  run.reset();
  const err = await run.driftFromFloat();
  if (err > 1e-4) throw new ConversionError('GRAPH_ANALYSIS', `rotation changed the float model's logits by ${err.toExponential(2)} (relative); refusing to continue`);
  rotation.logitsRelativeError = err;
  progress('rotate', 1, 1);
  return rotation;
}
