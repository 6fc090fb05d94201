/** LLaVA-OneVision's anyres geometry (transformers' `select_best_resolution`, `get_patch_output_size`). */
import { FormatError } from '../errors.js';

/** The pinpoint [h, w] that keeps the most of the image's resolution, then wastes the least. */
export function selectBestResolution(size: [number, number], pinpoints: readonly [number, number][]): [number, number] {
  const [oh, ow] = size;
  let best: [number, number] | null = null;
  let bestEffective = 0;
  let bestWasted = Infinity;
  for (const [h, w] of pinpoints) {
    const scale = Math.min(w / ow, h / oh);
    const effective = Math.min(Math.trunc(ow * scale) * Math.trunc(oh * scale), ow * oh);
    const wasted = w * h - effective;
    if (effective > bestEffective || (effective === bestEffective && wasted < bestWasted)) {
      bestEffective = effective;
      bestWasted = wasted;
      best = [h, w];
    }
  }
  if (!best) throw new FormatError('IMAGE', 'anyres: no grid pinpoint fits the image');
  return best;
}

/** The [h, w] the image is resized to inside a pinpoint, aspect kept (the limiting side fills it). */
export function fitInside(size: [number, number], target: [number, number]): [number, number] {
  const [oh, ow] = size;
  const [th, tw] = target;
  const sw = tw / ow;
  const sh = th / oh;
  return sw < sh ? [Math.min(Math.ceil(oh * sw), th), tw] : [th, Math.min(Math.ceil(ow * sh), tw)];
}
