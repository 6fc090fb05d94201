import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { MbqHadamardTransform, MbqHadamardTransformAttrs, MbqHadamardTransformInputs } from '../../kernel_names.js';
import { hadamardBase, hadamardPlan } from '../../ops/hadamard_matrix.js';
import { asWebGPU, f32u, flatProgram, i32u, withShape } from './program.js';
import { flat } from './quantize_programs.js';

/**
 * WGSL fast transform, same steps as kernels/cpu/hadamard_impl.ts: one pass applies the m x m base
 * matrix (m ≤ 28) and the 1/sqrt(d) scale to each chunk of m, then log2(2^k) butterfly passes.
 */
const baseProgram = (shape: number[]) => flatProgram({
  key: 'hadamard_base',
  variableNames: ['x', 'hm'],
  outputShape: shape,
  uniforms: 'n : i32, d : i32, m : i32, scale : f32,',
  body: `
    let jb = (index % uniforms.n) % uniforms.d;
    let i1 = jb / uniforms.m;
    let j2 = jb % uniforms.m;
    let chunk = index - jb + i1 * uniforms.m;
    var acc = 0.0;
    for (var i2 = 0; i2 < uniforms.m; i2++) {
      acc = acc + x[chunk + i2] * hm[i2 * uniforms.m + j2];
    }
    result[index] = acc * uniforms.scale;`,
});

const butterflyProgram = (shape: number[]) => flatProgram({
  key: 'hadamard_butterfly',
  variableNames: ['x'],
  outputShape: shape,
  uniforms: 'n : i32, d : i32, m : i32, h : i32,',
  body: `
    let i1 = ((index % uniforms.n) % uniforms.d) / uniforms.m;
    let partner = index + ((i1 ^ uniforms.h) - i1) * uniforms.m;
    if ((i1 & uniforms.h) != 0) {
      result[index] = x[partner] - x[index];
    } else {
      result[index] = x[index] + x[partner];
    }`,
});

const hadamardTransformWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = asWebGPU(MbqHadamardTransform, backend);
  const { x } = inputs as MbqHadamardTransformInputs;
  const { inverse } = attrs as unknown as MbqHadamardTransformAttrs;
  const n = x.shape[x.shape.length - 1];
  const plan = hadamardPlan(n);
  const m = plan.base;
  const h = hadamardBase(m);
  const hm = new Float32Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) hm[i * m + j] = inverse ? h[j * m + i] : h[i * m + j];
  const hmT = gpu.makeTensorInfo([m * m], 'float32', hm);
  const xf = flat(x);
  const dims = [i32u(n), i32u(plan.blockSize), i32u(m)];
  let y: TensorInfo = gpu.runWebGPUProgram(baseProgram(xf.shape), [xf, hmT], 'float32', [...dims, f32u(plan.scale)]);
  gpu.disposeData(hmT.dataId);
  for (let stride = 1; stride < plan.pow2; stride *= 2) {
    const next = gpu.runWebGPUProgram(butterflyProgram(xf.shape), [y], 'float32', [...dims, i32u(stride)]);
    gpu.disposeData(y.dataId);
    y = next;
  }
  return withShape(y, x.shape);
};

export const hadamardTransformWebGPUConfig: KernelConfig = {
  kernelName: MbqHadamardTransform,
  backendName: 'webgpu',
  kernelFunc: hadamardTransformWebGPU,
};
