/**
 * WGSL programs for the quantizers of docs/algorithm.md §5. Same operations in the same order as
 * kernels/cpu/quantize_impl.ts, in f32 (WGSL `round` rounds half to even, like torch.round).
 * All tensors are passed flat (1-D); groups are runs of `groupSize` consecutive elements.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { DIV_RN_WGSL, flatProgram, i32u, WebGPUBackendLike, withShape } from './program.js';
import type { QuantScheme } from '../cpu/quantize_impl.js';

const size = (t: TensorInfo): number => t.shape.reduce((a, b) => a * b, 1);
export const flat = (t: TensorInfo): TensorInfo => withShape(t, [size(t)]);

/** WGSL: code range of the scheme at `uniforms.bits`. */
function rangeSnippet(scheme: QuantScheme): string {
  return scheme === 'asym'
    ? `let lo = 0.0; let hi = f32((1u << u32(uniforms.bits)) - 1u);`
    : `let lo = -f32(1u << u32(uniforms.bits - 1)); let hi = f32((1u << u32(uniforms.bits - 1)) - 1u);`;
}

/** scales (which = 'scale') or zeros (which = 'zero') of every group: output [groups]. */
function paramsProgram(scheme: QuantScheme, which: 'scale' | 'zero', groups: number) {
  const fromRange = scheme === 'asym'
    ? `let maxq = f32((1u << u32(uniforms.bits)) - 1u);
       let scale = divRn(max(mx - mn, 1e-5), maxq);
       let zero = clamp(-round(divRn(mn, scale)), 0.0, maxq);`
    : `let absmax = max(abs(mn), abs(mx));
       let scale = divRn(max(absmax, 1e-5), f32((1u << u32(uniforms.bits - 1)) - 1u));
       let zero = 0.0;`;
  return flatProgram({
    key: `params_${scheme}_${which}`,
    variableNames: ['x'],
    outputShape: [groups],
    uniforms: 'groupSize : i32, bits : i32,',
    helpers: DIV_RN_WGSL,
    body: `
      let start = index * uniforms.groupSize;
      var mn = x[start];
      var mx = x[start];
      for (var i = 1; i < uniforms.groupSize; i++) {
        let v = x[start + i];
        mn = min(mn, v);
        mx = max(mx, v);
      }
      ${fromRange}
      result[index] = ${which};`,
  });
}

/** Per-group scale and zero of `x` (flat, groups of groupSize): two [groups] tensors. */
export function groupParamsGpu(gpu: WebGPUBackendLike, x: TensorInfo, groupSize: number, bits: number, scheme: QuantScheme): { scales: TensorInfo; zeros: TensorInfo } {
  const groups = size(x) / groupSize;
  const u = [i32u(groupSize), i32u(bits)];
  const scales = gpu.runWebGPUProgram(paramsProgram(scheme, 'scale', groups), [flat(x)], 'float32', u);
  const zeros = gpu.runWebGPUProgram(paramsProgram(scheme, 'zero', groups), [flat(x)], 'float32', u);
  return { scales, zeros };
}

const quantizeSnippet = (scheme: QuantScheme, xExpr: string, gExpr: string): string => `
  let s = scales[${gExpr}];
  let z = zeros[${gExpr}];
  ${rangeSnippet(scheme)}
  let q = clamp(round(divRn(${xExpr}, s)) + z, lo, hi);`;

/** Quantize each element with its group's scale/zero: the dequantized float or the integer code. */
export function quantizeElementsGpu(gpu: WebGPUBackendLike, x: TensorInfo, scales: TensorInfo, zeros: TensorInfo, groupSize: number, bits: number, scheme: QuantScheme, output: 'dequantized' | 'code'): TensorInfo {
  const program = flatProgram({
    key: `quantize_${scheme}_${output}`,
    variableNames: ['x', 'scales', 'zeros'],
    outputShape: [size(x)],
    uniforms: 'groupSize : i32, bits : i32,',
    helpers: DIV_RN_WGSL,
    body: `${quantizeSnippet(scheme, 'x[index]', 'index / uniforms.groupSize')}
      result[index] = ${output === 'code' ? 'i32(q)' : '(q - z) * s'};`,
  });
  const out = gpu.runWebGPUProgram(program, [flat(x), scales, zeros], output === 'code' ? 'int32' : 'float32', [i32u(groupSize), i32u(bits)]);
  return withShape(out, x.shape);
}

/**
 * Packs the asymmetric codes of w [N, K] into int32 [N, words]: one invocation per word gathers the
 * codes whose bits fall in it (code k at bits [k*bits, k*bits + bits) of the row's bitstream).
 */
export function packCodesGpu(gpu: WebGPUBackendLike, w: TensorInfo, scales: TensorInfo, zeros: TensorInfo, N: number, K: number, groupSize: number, bits: number, words: number): TensorInfo {
  const program = flatProgram({
    key: 'pack_asym',
    variableNames: ['x', 'scales', 'zeros'],
    outputShape: [N, words],
    uniforms: 'K : i32, groupSize : i32, bits : i32, words : i32,',
    helpers: DIV_RN_WGSL,
    body: `
      let n = index / uniforms.words;
      let bitStart = (index % uniforms.words) * 32;
      let kFirst = bitStart / uniforms.bits;
      let kLast = min((bitStart + 31) / uniforms.bits, uniforms.K - 1);
      let groupsPerRow = uniforms.K / uniforms.groupSize;
      var word = 0u;
      for (var k = kFirst; k <= kLast; k++) {
        let g = n * groupsPerRow + k / uniforms.groupSize;
        ${quantizeSnippet('asym', 'x[n * uniforms.K + k]', 'g')}
        let shift = k * uniforms.bits - bitStart;
        if (shift >= 0) {
          word = word | (u32(q) << u32(shift));
        } else {
          word = word | (u32(q) >> u32(-shift));
        }
      }
      result[index] = bitcast<i32>(word);`,
  });
  return gpu.runWebGPUProgram(program, [flat(w), flat(scales), flat(zeros)], 'int32', [i32u(K), i32u(groupSize), i32u(bits), i32u(words)]);
}

/** Unpacks codes from int32 [N, words] and returns (q - zero) * scale as float32 [N, K]. */
export function unpackDequantizeGpu(gpu: WebGPUBackendLike, packed: TensorInfo, scales: TensorInfo, zeros: TensorInfo, N: number, K: number, groupSize: number, bits: number, words: number): TensorInfo {
  const program = flatProgram({
    key: 'unpack_dequantize',
    variableNames: ['packed', 'scales', 'zeros'],
    outputShape: [N, K],
    uniforms: 'K : i32, groupSize : i32, bits : i32, words : i32,',
    body: `
      let n = index / uniforms.K;
      let k = index % uniforms.K;
      let bit = k * uniforms.bits;
      let w = n * uniforms.words + bit / 32;
      let off = u32(bit % 32);
      var v = bitcast<u32>(packed[w]) >> off;
      if (off + u32(uniforms.bits) > 32u) {
        v = v | (bitcast<u32>(packed[w + 1]) << (32u - off));
      }
      let q = f32(v & ((1u << u32(uniforms.bits)) - 1u));
      let g = n * (uniforms.K / uniforms.groupSize) + k / uniforms.groupSize;
      result[index] = (q - zeros[g]) * scales[g];`,
  });
  return gpu.runWebGPUProgram(program, [flat(packed), flat(scales), flat(zeros)], 'float32', [i32u(K), i32u(groupSize), i32u(bits), i32u(words)]);
}

/**
 * Per-tensor symmetric scale without a single serial pass: absmax of chunks of `chunk` elements
 * in parallel, then the usual params pass over the chunk maxima (their absmax is the tensor's).
 */
export function tensorParamsGpu(gpu: WebGPUBackendLike, x: TensorInfo, bits: number, chunk = 4096): { scales: TensorInfo; zeros: TensorInfo } {
  const total = size(x);
  const chunks = Math.ceil(total / chunk);
  const program = flatProgram({
    key: 'absmax_chunks',
    variableNames: ['x'],
    outputShape: [chunks],
    uniforms: 'chunk : i32, total : i32,',
    body: `
      let start = index * uniforms.chunk;
      let end = min(start + uniforms.chunk, uniforms.total);
      var m = 0.0;
      for (var i = start; i < end; i++) { m = max(m, abs(x[i])); }
      result[index] = m;`,
  });
  const maxima = gpu.runWebGPUProgram(program, [flat(x)], 'float32', [i32u(chunk), i32u(total)]);
  const params = groupParamsGpu(gpu, maxima, chunks, bits, 'sym');
  gpu.disposeData(maxima.dataId);
  return params;
}
