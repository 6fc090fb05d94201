/** Applies the rotation of rotate/ to the graph (placeholder until implemented; see report gaps). */
import type { GraphAnalysis } from '../graph/analysis.js';
import type { ModelState } from '../graph/fold.js';
import { ConversionError } from '../io/errors.js';

export interface RotationRecord {
  residualSize: number;
  downSize: number | null;
  construction: string;
  seed: number;
  logitsRelativeError?: number;
}

export function applyRotation(_state: ModelState, _analysis: GraphAnalysis, _seed: number): RotationRecord {
  throw new ConversionError('OPTION', '--rotate is not available yet in this build of the converter');
}
