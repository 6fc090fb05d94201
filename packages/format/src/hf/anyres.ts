/** LLaVA-OneVision's anyres geometry: transformers' `get_patch_output_size` (`select_best_resolution` lives in image_tokens.ts). */

/** The [h, w] the image is resized to inside a pinpoint, aspect kept (the limiting side fills it). */
export function fitInside(size: [number, number], target: [number, number]): [number, number] {
  const [oh, ow] = size;
  const [th, tw] = target;
  const sw = tw / ow;
  const sh = th / oh;
  return sw < sh ? [Math.min(Math.ceil(oh * sw), th), tw] : [th, Math.min(Math.ceil(ow * sh), tw)];
}
