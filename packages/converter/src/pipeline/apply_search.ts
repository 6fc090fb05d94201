/**
 * Stage search, from a search file (--apply-search): each group's saved scales folded into the
 * model in the order the search folded them, without searching. The same host arithmetic on the
 * same values, so the model state is what the searching run had.
 */
import { ConversionError } from '../io/errors.js';
import type { GraphAnalysis } from '../graph/analysis.js';
import { applyGroupScale } from '../graph/fold.js';
import type { GroupRecord } from '../emit/quantization_json.js';
import type { CalibRun } from './calib_run.js';
import type { Progress } from './progress.js';

/** `records` as readSearchFile checked them: one per group, in block and group order; `blockDone` as in the search stage. */
export function applySearchStage(
  run: CalibRun, analysis: GraphAnalysis, file: string, records: readonly GroupRecord[], selected: ReadonlySet<string>,
  blockDone: (folded: string[]) => void, progress: Progress,
): void {
  // The searching run folded each group where the (rotated) graph let it; so must this one.
  analysis.blocks.flatMap((b) => b.groups).forEach((group, i) => {
    if (records[i].fold !== group.fold.kind) {
      throw new ConversionError('OPTION', `--apply-search ${file}: groups[${i}].fold is "${records[i].fold}"; this model folds group ${group.name} as "${group.fold.kind}"`, file);
    }
  });
  let i = 0;
  progress('search', 0, records.length);
  for (const block of analysis.blocks) {
    const folded: string[] = [];
    for (const group of block.groups) {
      // A group whose linears all stay float was not folded by the search either (its record holds s = 1).
      if (group.linears.some((id) => selected.has(id))) folded.push(...applyGroupScale(run.state, analysis, group, Float32Array.from(records[i].scales)));
      progress('search', ++i, records.length, `block ${block.index} ${group.name} (from the search file)`);
    }
    blockDone(folded);
  }
  // Scale folds may have inserted nodes: a new executor over the changed graph and weights.
  run.reset();
}
