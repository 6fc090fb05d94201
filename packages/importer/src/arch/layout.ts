/** Finding where each part of a model sits in a checkpoint, among the name prefixes transformers loads. */
import { ImportError } from '../errors.js';
import type { SafetensorsCheckpoint } from '../safetensors/index.js';

export interface PartCandidates {
  /** A tensor name every layout of the part has, after its prefix. */
  probe: string;
  prefixes: readonly string[];
}

/**
 * The one prefix under which `part.probe` exists; '' for an absent optional part (a tied lm_head).
 * None or several: an ImportError naming the candidates.
 */
export function findPrefix(ckpt: SafetensorsCheckpoint, architecture: string, part: PartCandidates, optional = false): string {
  const hits = part.prefixes.filter((p) => ckpt.has(p + part.probe));
  if (hits.length === 1) return hits[0]!;
  if (hits.length === 0 && optional) return '';
  const what = hits.length === 0 ? 'none of' : 'more than one of';
  throw new ImportError('TENSOR_NAME', `${ckpt.source}: ${what} ${part.prefixes.map((p) => `'${p}${part.probe}'`).join(', ')} found: not a ${architecture} checkpoint layout transformers loads`, ckpt.source);
}

/** `name` is `<prefix>encoder.layers.N...` (or `blocks.N`) with N in [from, to): a layer the graph does not use. */
export function isLayerInRange(name: string, layersPrefix: string, from: number, to: number): boolean {
  if (!name.startsWith(layersPrefix)) return false;
  const m = /^(\d+)\./.exec(name.slice(layersPrefix.length));
  return m !== null && Number(m[1]) >= from && Number(m[1]) < to;
}
