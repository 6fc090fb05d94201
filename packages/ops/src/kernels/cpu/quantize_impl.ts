/**
 * The quantizers of docs/algorithm.md §5 on plain typed arrays, in float32 arithmetic step by step
 * (Math.fround after every operation) so that the WGSL kernels, which do the same operations in
 * f32, give the same bits. Shared by the cpu and wasm kernels.
 */
import { roundHalfEven } from '@tfjs-mbq/format';

export type QuantScheme = 'asym' | 'sym';

const f32 = Math.fround;
/** 1e-5 as the f32 literal the WGSL kernels use. */
const MIN_RANGE = f32(1e-5);

/** Code range of a scheme: asym [0, 2^b - 1], sym [-2^(b-1), 2^(b-1) - 1]. */
function codeRange(bits: number, scheme: QuantScheme): { lo: number; hi: number } {
  return scheme === 'asym' ? { lo: 0, hi: 2 ** bits - 1 } : { lo: -(2 ** (bits - 1)), hi: 2 ** (bits - 1) - 1 };
}

export interface GroupParams {
  scales: Float32Array;
  /** Asymmetric: integer zero points in [0, 2^b - 1]; symmetric: all 0. */
  zeros: Float32Array;
}

/** Scale (and zero) of one group from its min and max (asym) or its absmax (sym, pass min = -absmax). */
function paramsFromRange(mn: number, mx: number, bits: number, scheme: QuantScheme): { scale: number; zero: number } {
  if (scheme === 'asym') {
    const maxq = 2 ** bits - 1;
    const scale = f32(Math.max(f32(mx - mn), MIN_RANGE) / maxq);
    const zero = Math.min(Math.max(-roundHalfEven(f32(mn / scale)), 0), maxq);
    return { scale, zero };
  }
  const absmax = Math.max(Math.abs(mn), Math.abs(mx));
  return { scale: f32(Math.max(absmax, MIN_RANGE) / (2 ** (bits - 1) - 1)), zero: 0 };
}

/**
 * Per-group parameters. Group i covers x[i*groupSize, (i+1)*groupSize) (consecutive elements of
 * the last axis for asym-group, whole rows for per-channel/per-token, everything for per-tensor).
 */
export function groupParams(x: ArrayLike<number>, groupSize: number, bits: number, scheme: QuantScheme): GroupParams {
  const groups = groupSize === 0 ? 0 : x.length / groupSize;
  const scales = new Float32Array(groups);
  const zeros = new Float32Array(groups);
  for (let gi = 0; gi < groups; gi++) {
    let mn = Infinity;
    let mx = -Infinity;
    const end = (gi + 1) * groupSize;
    for (let i = gi * groupSize; i < end; i++) {
      const v = x[i];
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    const p = paramsFromRange(mn, mx, bits, scheme);
    scales[gi] = p.scale;
    zeros[gi] = p.zero;
  }
  return { scales, zeros };
}

/** q = clamp(round(v / scale) + zero, lo, hi). */
function quantizeValue(v: number, scale: number, zero: number, lo: number, hi: number): number {
  return Math.min(Math.max(roundHalfEven(f32(v / scale)) + zero, lo), hi);
}

/** (q - zero) * scale in f32 (q - zero is an exact small integer). */
export function dequantizeValue(q: number, scale: number, zero: number): number {
  return f32((q - zero) * scale);
}

/** Integer codes of every element (asym: unsigned, sym: signed). */
export function quantizeCodes(x: ArrayLike<number>, groupSize: number, params: GroupParams, bits: number, scheme: QuantScheme): Int32Array {
  const { lo, hi } = codeRange(bits, scheme);
  const out = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const gi = Math.floor(i / groupSize);
    out[i] = quantizeValue(x[i], params.scales[gi], params.zeros[gi], lo, hi);
  }
  return out;
}

/** Quantize then dequantize every element. */
export function fakeQuantize(x: ArrayLike<number>, groupSize: number, params: GroupParams, bits: number, scheme: QuantScheme): Float32Array {
  const { lo, hi } = codeRange(bits, scheme);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const gi = Math.floor(i / groupSize);
    const s = params.scales[gi];
    const z = params.zeros[gi];
    out[i] = dequantizeValue(quantizeValue(x[i], s, z, lo, hi), s, z);
  }
  return out;
}

/** Dequantizes codes [N, K] with per-group scales/zeros [N, K/g]. */
export function dequantizeCodes(codes: ArrayLike<number>, N: number, K: number, groupSize: number, scales: ArrayLike<number>, zeros: ArrayLike<number>): Float32Array {
  const out = new Float32Array(N * K);
  const groupsPerRow = K / groupSize;
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const gi = n * groupsPerRow + Math.floor(k / groupSize);
      out[n * K + k] = dequantizeValue(codes[n * K + k], scales[gi], zeros[gi]);
    }
  }
  return out;
}

/** Number of consecutive elements sharing one scale for a pseudoQuantize mode. */
export function groupLengthFor(mode: 'asym-group' | 'sym-channel' | 'sym-token' | 'sym-tensor', shape: readonly number[], groupSize: number): number {
  switch (mode) {
    case 'asym-group': return groupSize;
    case 'sym-channel':
    case 'sym-token': return shape.length === 0 ? 1 : shape[shape.length - 1];
    case 'sym-tensor': return shape.reduce((a, b) => a * b, 1);
  }
}
