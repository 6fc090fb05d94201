/** Stage quantize: the selected decoder linears of the folded model into the packed format (docs/architecture.md). */
import type { GraphAnalysis } from '../graph/analysis.js';
import { linearWeightNK, type ModelState } from '../graph/fold.js';
import { quantizeAsymGroup, quantizeSymChannel, type QuantizedLinear } from '../emit/quantize.js';
import type { Progress } from './progress.js';

/** Quantizes the `selected` linears (the others stay float). */
export async function quantizeStage(
  state: ModelState, analysis: GraphAnalysis, selected: readonly string[], q: { wBits: number; aBits?: number; groupSize: number }, progress: Progress,
): Promise<Map<string, QuantizedLinear>> {
  const quantized = new Map<string, QuantizedLinear>();
  const ids = selected;
  for (const [i, id] of ids.entries()) {
    const l = analysis.linears.get(id)!;
    const w = linearWeightNK(state.weights, l);
    quantized.set(id, q.aBits !== undefined
      ? await quantizeSymChannel(id, w, l.N, l.K, q.wBits, q.aBits)
      : await quantizeAsymGroup(id, w, l.N, l.K, q.wBits, q.groupSize));
    progress('quantize', i + 1, ids.length);
  }
  return quantized;
}
