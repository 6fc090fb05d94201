/** Stage sensitivity (MBQ only, docs/algorithm.md §3): the modality gradient ratio of every block. */
import type { GraphAnalysis } from '../graph/analysis.js';
import type { CalibSet } from '../calib/load.js';
import type { WorkDir } from '../io/work_dir.js';
import { checkSensitivity } from '../io/search_file.js';
import { batchedSensitivity } from '../sensitivity/batched.js';
import type { SensitivityResult } from '../sensitivity/index.js';
import type { MemoryLimits } from '../memory_limits.js';
import type { CalibRun } from './calib_run.js';
import type { Progress } from './progress.js';

export async function sensitivityStage(
  run: CalibRun, analysis: GraphAnalysis, calib: CalibSet, padId: number, work: WorkDir | undefined, progress: Progress,
  memory: MemoryLimits,
): Promise<SensitivityResult> {
  const n = calib.samples.length;
  progress('sensitivity', 0, n);
  const saved = await work?.sensitivity((v, bad) => { checkSensitivity(v, analysis, 'mbq', bad); return v as SensitivityResult; });
  if (saved) {
    progress('sensitivity', n, n, 'from the work directory');
    return saved;
  }
  const sensitivity = await batchedSensitivity(run.exec, analysis, run.io, calib.samples, calib.imageSize, padId, 16, (d, t, detail) => progress('sensitivity', d, t, detail), memory);
  await work?.saveSensitivity(sensitivity);
  return sensitivity;
}
