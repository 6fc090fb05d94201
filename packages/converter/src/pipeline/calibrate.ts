/** Stage calibrate: the calibration samples chosen by the seed, tokenised and batched. */
import type { LoadedModel } from '../io/load.js';
import { calibInputs } from '../calib/inputs.js';
import { loadCalibration, type CalibSet } from '../calib/load.js';
import { makeBatch, type CalibBatch } from '../calib/batch.js';
import type { ResolvedOptions } from '../options.js';
import type { Progress } from './progress.js';

export interface Calibrated {
  calib: CalibSet;
  batch: CalibBatch;
}

export async function calibrateStage(opts: ResolvedOptions, model: LoadedModel, progress: Progress): Promise<Calibrated> {
  progress('calibrate', 0, 1, opts.calibDir);
  const calib = await loadCalibration(opts.calibDir, calibInputs(model), { samples: opts.samples, seed: opts.seed });
  const batch = makeBatch(calib.samples, model.mbq.imageSize, padTokenId(model));
  progress('calibrate', 1, 1, `${calib.samples.length} of ${calib.available} samples, ${batch.seqLen} tokens each (padded)`);
  return { calib, batch };
}

export function padTokenId(model: LoadedModel): number {
  return typeof model.mbq.padTokenId === 'number' ? model.mbq.padTokenId : model.mbq.eosTokenId;
}
