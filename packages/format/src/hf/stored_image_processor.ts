/**
 * mbq.json's `imageProcessor`: an ImageProcessorConfig as the importer stores it, read back with
 * every field checked (a model directory may come from anywhere), so preprocessing never runs on
 * a description it cannot follow.
 */
import { FormatError } from '../errors.js';
import { IMAGE_LIMITS } from '../image_header.js';
import type { ImageProcessorConfig, Rgb3 } from './image_processor_config.js';
import { PIL_RESAMPLE_BY_NUMBER, type PilResample } from './pil_resample.js';

/** Largest side a stored processor may resize or crop to: the largest image the toolkit reads. */
const MAX_SIDE = IMAGE_LIMITS.maxSide;

type Json = Record<string, unknown>;
const RESAMPLES = new Set<string>(Object.values(PIL_RESAMPLE_BY_NUMBER));

class StoredReader {
  constructor(readonly json: Json, readonly where: string, readonly file: string) {}
  fail(message: string): never { throw new FormatError('MBQ_JSON', `${this.where}: ${message}`, this.file); }
  object(key: string): Json {
    const v = this.json[key];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(`"${key}" must be an object, got ${JSON.stringify(v)}`);
    return v as Json;
  }
  side(v: unknown, key: string): number {
    if (!Number.isSafeInteger(v) || (v as number) < 1 || (v as number) > MAX_SIDE) this.fail(`"${key}" must be an integer in 1..${MAX_SIDE}, got ${JSON.stringify(v)}`);
    return v as number;
  }
  int(key: string): number {
    const v = this.json[key];
    if (!Number.isSafeInteger(v) || (v as number) < 1) this.fail(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  }
  heightWidth(v: unknown, key: string): { height: number; width: number } {
    if (typeof v !== 'object' || v === null) this.fail(`"${key}" must be {"height", "width"}, got ${JSON.stringify(v)}`);
    const o = v as Json;
    return { height: this.side(o.height, `${key}.height`), width: this.side(o.width, `${key}.width`) };
  }
  rgb(v: unknown, key: string, positive: boolean): Rgb3 {
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
      this.fail(`"${key}" must be 3 ${positive ? 'positive ' : ''}finite numbers, got ${JSON.stringify(v)}`);
    }
    return [v[0], v[1], v[2]] as Rgb3;
  }
}

function common(r: StoredReader): Pick<ImageProcessorConfig, 'compositeOnWhite' | 'resample' | 'rescaleFactor' | 'normalize'> {
  const { compositeOnWhite, resample, rescaleFactor, normalize } = r.json;
  if (typeof compositeOnWhite !== 'boolean') r.fail(`"compositeOnWhite" must be true or false, got ${JSON.stringify(compositeOnWhite)}`);
  if (typeof resample !== 'string' || !RESAMPLES.has(resample)) r.fail(`"resample" must be one of ${[...RESAMPLES].join(', ')}, got ${JSON.stringify(resample)}`);
  if (rescaleFactor !== null && !(typeof rescaleFactor === 'number' && Number.isFinite(rescaleFactor) && rescaleFactor > 0)) {
    r.fail(`"rescaleFactor" must be a positive number or null, got ${JSON.stringify(rescaleFactor)}`);
  }
  let norm: ImageProcessorConfig['normalize'] = null;
  if (normalize !== null) {
    const n = r.object('normalize');
    norm = { mean: r.rgb(n.mean, 'normalize.mean', false), std: r.rgb(n.std, 'normalize.std', true) };
  }
  return { compositeOnWhite: compositeOnWhite as boolean, resample: resample as PilResample, rescaleFactor: rescaleFactor as number | null, normalize: norm };
}

/** Checks a stored ImageProcessorConfig (`where` names the file and field in errors; `file` is the file). */
export function parseStoredImageProcessor(raw: unknown, where: string, file: string = where): ImageProcessorConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FormatError('MBQ_JSON', `${where}: must be an object, got ${JSON.stringify(raw)}`, file);
  const r = new StoredReader(raw as Json, where, file);
  const kind = r.json.kind;
  switch (kind) {
    case 'single': {
      const { resize, centerCrop } = r.json;
      let size: Extract<ImageProcessorConfig, { kind: 'single' }>['resize'] = null;
      if (resize !== null) {
        const o = r.object('resize');
        size = 'shortestEdge' in o ? { shortestEdge: r.side(o.shortestEdge, 'resize.shortestEdge') } : r.heightWidth(o, 'resize');
      }
      return { kind, ...common(r), resize: size, centerCrop: centerCrop === null ? null : r.heightWidth(centerCrop, 'centerCrop') };
    }
    case 'anyres': {
      const pins = r.json.gridPinpoints;
      if (!Array.isArray(pins) || pins.length === 0) r.fail(`"gridPinpoints" must be a non-empty list of [height, width], got ${JSON.stringify(pins)}`);
      const gridPinpoints = (pins as unknown[]).map((p, i): [number, number] => {
        if (!Array.isArray(p) || p.length !== 2) return r.fail(`"gridPinpoints[${i}]" must be [height, width], got ${JSON.stringify(p)}`);
        return [r.side(p[0], `gridPinpoints[${i}][0]`), r.side(p[1], `gridPinpoints[${i}][1]`)];
      });
      return { kind, ...common(r), size: r.heightWidth(r.json.size, 'size'), gridPinpoints };
    }
    case 'qwen2-vl': {
      const minPixels = r.int('minPixels');
      const maxPixels = r.int('maxPixels');
      if (maxPixels < minPixels || maxPixels > IMAGE_LIMITS.maxPixels) r.fail(`"maxPixels" must lie in minPixels..${IMAGE_LIMITS.maxPixels}, got ${maxPixels}`);
      return {
        kind, ...common(r), minPixels, maxPixels,
        patchSize: r.int('patchSize'), temporalPatchSize: r.int('temporalPatchSize'), mergeSize: r.int('mergeSize'),
      };
    }
    default:
      return r.fail(`"kind" must be "single", "anyres" or "qwen2-vl", got ${JSON.stringify(kind)}`);
  }
}
