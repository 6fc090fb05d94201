/**
 * WGSL reconstruction losses: one invocation per token sums |D| or D² over its C channels (f32),
 * then a single invocation combines the token sums with the masks (docs/algorithm.md §4.4).
 * The second pass is serial over tokens: calibration batches have at most a few thousand.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { f32u, flatProgram, i32u, WebGPUBackendLike, withShape } from './program.js';
import { flat } from './quantize_programs.js';

export function rowErrorSumsGpu(gpu: WebGPUBackendLike, reference: TensorInfo, output: TensorInfo, C: number, squared: boolean): TensorInfo {
  const T = reference.shape.reduce((a, b) => a * b, 1) / C;
  const program = flatProgram({
    key: `loss_rows_${squared ? 'sq' : 'abs'}`,
    variableNames: ['reference', 'output'],
    outputShape: [T],
    uniforms: 'C : i32,',
    body: `
      var acc = 0.0;
      for (var c = index * uniforms.C; c < (index + 1) * uniforms.C; c++) {
        let d = output[c] - reference[c];
        acc = acc + ${squared ? 'd * d' : 'abs(d)'};
      }
      result[index] = acc;`,
  });
  return gpu.runWebGPUProgram(program, [flat(reference), flat(output)], 'float32', [i32u(C)]);
}

/** MBQ loss from token sums and masks -> float32 scalar. */
export function combineMbqLossGpu(gpu: WebGPUBackendLike, rows: TensorInfo, visionMask: TensorInfo, captionMask: TensorInfo, C: number, ratio: number, mode: 'mae' | 'mse'): TensorInfo {
  const T = rows.shape[0];
  const finish = mode === 'mae'
    ? `let denom = (nt + nv) * f32(uniforms.C);
       var loss = 0.0;
       if (denom > 0.0) { loss = (cap + uniforms.ratio * vis) / denom; }`
    : `var loss = 0.0;
       if (nt > 0.0) { loss = cap / (nt * f32(uniforms.C)); }
       if (nv > 0.0) { loss = loss + uniforms.ratio * (vis / (nv * f32(uniforms.C))); }`;
  const program = flatProgram({
    key: `loss_mbq_${mode}`,
    variableNames: ['rows', 'vmask', 'cmask'],
    outputShape: [1],
    uniforms: 'T : i32, C : i32, ratio : f32,',
    body: `
      var cap = 0.0; var vis = 0.0; var nt = 0.0; var nv = 0.0;
      for (var t = 0; t < uniforms.T; t++) {
        let r = rows[t];
        if (f32(cmask[t]) != 0.0) { cap = cap + r; nt = nt + 1.0; }
        if (f32(vmask[t]) != 0.0) { vis = vis + r; nv = nv + 1.0; }
      }
      ${finish}
      result[0] = loss;`,
  });
  const out = gpu.runWebGPUProgram(program, [rows, flat(visionMask), flat(captionMask)], 'float32', [i32u(T), i32u(C), f32u(ratio)]);
  return withShape(out, []);
}

/** Mean of all token sums over `count` elements -> float32 scalar. */
export function meanOfRowsGpu(gpu: WebGPUBackendLike, rows: TensorInfo, count: number): TensorInfo {
  const program = flatProgram({
    key: 'loss_mean',
    variableNames: ['rows'],
    outputShape: [1],
    uniforms: 'T : i32, count : f32,',
    body: `
      var acc = 0.0;
      for (var t = 0; t < uniforms.T; t++) { acc = acc + rows[t]; }
      result[0] = acc / uniforms.count;`,
  });
  const out = gpu.runWebGPUProgram(program, [rows], 'float32', [i32u(rows.shape[0]), f32u(count)]);
  return withShape(out, []);
}
