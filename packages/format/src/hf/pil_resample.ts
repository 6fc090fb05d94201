/**
 * Pillow's `Image.resize` for 8-bit RGB, reproduced to the bit: transformers' PIL image processors
 * resize with it, and a model's pixel values only match when every uint8 matches.
 *
 * Pillow resizes in two separable passes (horizontal, then vertical), each a convolution whose
 * support widens with the downscale factor (antialiasing). Coefficients are computed in double,
 * normalized to sum 1, turned into fixed point with 22 fractional bits, and each pass rounds and
 * clips its result to uint8: the intermediate image is 8-bit too. A pass is skipped when its size
 * does not change. `nearest` is not a convolution in Pillow: it samples the source pixel under
 * each output pixel's centre.
 */
import { FormatError } from '../errors.js';

export type PilResample = 'nearest' | 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

/** PIL.Image.Resampling numbering, as image processor configs store `resample`. */
export const PIL_RESAMPLE_BY_NUMBER: Readonly<Record<number, PilResample>> = {
  0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'box', 5: 'hamming',
};

interface Filter { weight(x: number): number; support: number }

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

// Pillow writes the Hamming window's constants as C floats; their float32 values matter.
const HAMMING_A = Math.fround(0.54);
const HAMMING_B = Math.fround(0.46);

const FILTERS: Readonly<Record<Exclude<PilResample, 'nearest'>, Filter>> = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, weight: (x) => { const a = Math.abs(x); return a < 1 ? 1 - a : 0; } },
  hamming: {
    support: 1,
    weight: (x) => {
      const a = Math.abs(x);
      if (a === 0) return 1;
      if (a >= 1) return 0;
      const px = a * Math.PI;
      return (Math.sin(px) / px) * (HAMMING_A + HAMMING_B * Math.cos(px));
    },
  },
  // Keys' cubic convolution with a = -0.5.
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;

/** Fixed-point taps of one pass: for output i, `count[i]` taps starting at source index `first[i]`. */
interface Taps { first: Int32Array; count: Int32Array; weights: Float64Array; ksize: number }

function computeTaps(inSize: number, outSize: number, filter: Filter): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  const invScale = 1 / filterScale;
  const raw = new Float64Array(ksize);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C casts truncate toward zero; the lower bound is clamped at 0 anyway.
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const n = hi - lo;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const w = filter.weight((k + lo - center + 0.5) * invScale);
      raw[k] = w;
      sum += w;
    }
    for (let k = 0; k < n; k++) {
      const w = sum !== 0 ? raw[k]! / sum : raw[k]!;
      // Round half away from zero into 22 fractional bits, as a C (int) cast of w*2^22 -/+ 0.5.
      weights[i * ksize + k] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[i] = lo;
    count[i] = n;
  }
  return { first, count, weights, ksize };
}

/** Rounds a fixed-point accumulator (which already holds +0.5) down to an integer and clips it to uint8. */
function clip8(acc: number): number {
  const v = Math.floor(acc / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

const HALF = ONE / 2;

function horizontalPass(src: Uint8Array, inW: number, rows: number, rowOffset: number, outW: number, taps: Taps): Uint8Array {
  const out = new Uint8Array(outW * rows * 3);
  for (let y = 0; y < rows; y++) {
    const row = (y + rowOffset) * inW * 3;
    for (let x = 0; x < outW; x++) {
      const lo = taps.first[x]!;
      const n = taps.count[x]!;
      const kBase = x * taps.ksize;
      let r = HALF, g = HALF, b = HALF;
      for (let k = 0; k < n; k++) {
        const w = taps.weights[kBase + k]!;
        const p = row + (lo + k) * 3;
        r += src[p]! * w;
        g += src[p + 1]! * w;
        b += src[p + 2]! * w;
      }
      const o = (y * outW + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

function verticalPass(src: Uint8Array, w: number, rowShift: number, outH: number, taps: Taps): Uint8Array {
  const out = new Uint8Array(w * outH * 3);
  for (let y = 0; y < outH; y++) {
    const lo = taps.first[y]! - rowShift;
    const n = taps.count[y]!;
    const kBase = y * taps.ksize;
    for (let x = 0; x < w; x++) {
      let r = HALF, g = HALF, b = HALF;
      for (let k = 0; k < n; k++) {
        const wt = taps.weights[kBase + k]!;
        const p = ((lo + k) * w + x) * 3;
        r += src[p]! * wt;
        g += src[p + 1]! * wt;
        b += src[p + 2]! * wt;
      }
      const o = (y * w + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

function nearest(src: Uint8Array, inW: number, inH: number, outW: number, outH: number): Uint8Array {
  const out = new Uint8Array(outW * outH * 3);
  const sx = inW / outW;
  const sy = inH / outH;
  for (let y = 0; y < outH; y++) {
    const yi = Math.min(Math.floor((y + 0.5) * sy), inH - 1);
    for (let x = 0; x < outW; x++) {
      const xi = Math.min(Math.floor((x + 0.5) * sx), inW - 1);
      const s = (yi * inW + xi) * 3;
      const o = (y * outW + x) * 3;
      out[o] = src[s]!;
      out[o + 1] = src[s + 1]!;
      out[o + 2] = src[s + 2]!;
    }
  }
  return out;
}

/** `PIL.Image.resize((outW, outH), resample)` of an interleaved 8-bit RGB image. */
export function pilResizeRgb(
  rgb: Uint8Array, width: number, height: number, outW: number, outH: number, resample: PilResample,
): Uint8Array {
  if (!(Number.isInteger(outW) && Number.isInteger(outH) && outW > 0 && outH > 0)) {
    throw new FormatError('IMAGE', `resize: output size must be positive integers, got ${outW}x${outH}`);
  }
  if (rgb.length !== width * height * 3) throw new FormatError('IMAGE', `resize: expected ${width * height * 3} RGB bytes, got ${rgb.length}`);
  if (outW === width && outH === height) return rgb.slice();
  if (resample === 'nearest') return nearest(rgb, width, height, outW, outH);
  const filter = FILTERS[resample];
  const vertical = outH !== height ? computeTaps(height, outH, filter) : null;
  let image = rgb;
  let rowShift = 0;
  if (outW !== width) {
    // Only the source rows the vertical pass reads are resampled horizontally.
    const firstRow = vertical ? vertical.first[0]! : 0;
    const lastRow = vertical ? vertical.first[outH - 1]! + vertical.count[outH - 1]! : height;
    image = horizontalPass(rgb, width, lastRow - firstRow, firstRow, outW, computeTaps(width, outW, filter));
    rowShift = firstRow;
  }
  if (vertical) image = verticalPass(image, outW, rowShift, outH, vertical);
  return image;
}
