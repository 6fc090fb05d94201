/**
 * The image processor's settings as mbq.json's `imageProcessor`: what the runtime must do to an
 * image to get the graph's `pixel_values` (resize, center crop, rescale, normalize; NHWC).
 * Read from processor_config.json's `image_processor` (transformers 5) or preprocessor_config.json (4).
 */
import { ImportError } from './errors.js';
import { isRecord, type Json } from './arch/config_fields.js';

export type Resample = 'nearest' | 'lanczos' | 'bilinear' | 'bicubic' | 'box' | 'hamming';
/** PIL's resampling filter numbers, as transformers stores `resample`. */
const PIL_RESAMPLE: Record<number, Resample> = { 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'box', 5: 'hamming' };

export interface ImageProcessorJson {
  /** The transformers class the settings belong to. */
  type: string;
  /** shortestEdge: scale so the shorter side has this length (aspect kept); height/width: exact size; null: no resize. */
  resize: { shortestEdge: number } | { height: number; width: number } | null;
  resample: Resample;
  centerCrop: { height: number; width: number } | null;
  /** Multiplies 0..255 pixel values (1/255), or null for none. */
  rescaleFactor: number | null;
  mean: [number, number, number] | null;
  std: [number, number, number] | null;
  convertRgb: boolean;
}

export const SUPPORTED_IMAGE_PROCESSORS = ['CLIPImageProcessor', 'CLIPImageProcessorFast', 'CLIPImageProcessorPil'];

export function imageProcessorJson(settings: Json, file: string, imageSize: [number, number]): ImageProcessorJson {
  const bad = (msg: string): never => { throw new ImportError('PROCESSOR', `${file}: ${msg}`, file); };
  const type = typeof settings.image_processor_type === 'string' ? settings.image_processor_type : undefined;
  if (!type || !SUPPORTED_IMAGE_PROCESSORS.includes(type)) bad(`image_processor_type ${JSON.stringify(type)} is not supported (supported: ${SUPPORTED_IMAGE_PROCESSORS.join(', ')})`);
  const flag = (k: string, dflt: boolean): boolean => {
    const v = settings[k];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') bad(`${k} must be true or false`);
    return v as boolean;
  };
  const posInt = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) bad(`${what} must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const size2 = (v: unknown, what: string): { height: number; width: number } => {
    if (typeof v === 'number') return { height: posInt(v, what), width: posInt(v, what) };
    if (isRecord(v) && v.height !== undefined) return { height: posInt(v.height, `${what}.height`), width: posInt(v.width, `${what}.width`) };
    return bad(`${what} must be {height, width}, got ${JSON.stringify(v)}`);
  };
  const triple = (k: string): [number, number, number] => {
    const v = settings[k];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) bad(`${k} must be 3 numbers, got ${JSON.stringify(v)}`);
    return v as [number, number, number];
  };
  let resize: ImageProcessorJson['resize'] = null;
  if (flag('do_resize', true)) {
    const s = settings.size;
    if (isRecord(s) && s.shortest_edge !== undefined) resize = { shortestEdge: posInt(s.shortest_edge, 'size.shortest_edge') };
    else resize = size2(s, 'size');
  }
  const rnum = settings.resample ?? 3;
  const resample = typeof rnum === 'number' ? PIL_RESAMPLE[rnum] : undefined;
  if (!resample) bad(`resample ${JSON.stringify(rnum)} is not a PIL filter number 0..5`);
  const centerCrop = flag('do_center_crop', true) ? size2(settings.crop_size, 'crop_size') : null;
  const rescale = settings.rescale_factor ?? 1 / 255;
  if (flag('do_rescale', true) && (typeof rescale !== 'number' || !(rescale > 0))) bad(`rescale_factor must be a positive number`);
  const out: ImageProcessorJson = {
    type: type!, resize, resample: resample!, centerCrop,
    rescaleFactor: flag('do_rescale', true) ? (rescale as number) : null,
    mean: flag('do_normalize', true) ? triple('image_mean') : null,
    std: flag('do_normalize', true) ? triple('image_std') : null,
    convertRgb: flag('do_convert_rgb', true),
  };
  // The graph's pixel_values has a fixed size: the processor must produce exactly it.
  const final = centerCrop ?? (resize && 'height' in resize ? resize : null);
  if (!final || final.height !== imageSize[0] || final.width !== imageSize[1]) {
    bad(`the processor makes ${final ? `${final.height}x${final.width}` : 'variable-size'} images but the vision tower takes ${imageSize[0]}x${imageSize[1]}`);
  }
  return out;
}
