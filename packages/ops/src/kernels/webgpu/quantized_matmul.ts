/**
 * 'webgpu' kernel of MbqQuantizedMatMul: plans the variant (quantized_matmul_plan.ts) and runs
 * its programs (quantized_matmul_programs.ts) through backend.runWebGPUProgram, so the dispatch
 * joins the backend's open compute pass and batched submits like any tfjs op, and the pipeline
 * comes from the backend's cache by shaderKey (the WGSL is generated once per layer shape).
 */
import { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { checkQuantizedMatMul, MbqQuantizedMatMul, MbqQuantizedMatMulAttrs } from '../quantized_matmul_common.js';
import { planQuantizedMatMul, QmmOptions } from './quantized_matmul_plan.js';
import { ActQuantProgram, mUniform, QuantizedMatMulProgram } from './quantized_matmul_programs.js';
import { withShape } from './program.js';

let options: QmmOptions = {};

/** Test and benchmark hook: force a variant or tiling of the webgpu kernel. */
export function setQuantizedMatMulWebGPUOptions(o: QmmOptions): void {
  options = { ...o };
}

export const quantizedMatMulWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as WebGPUBackend;
  const { x, packed, scales, zeros } = inputs as { x: TensorInfo; packed: TensorInfo; scales: TensorInfo; zeros: TensorInfo };
  const a = attrs as unknown as MbqQuantizedMatMulAttrs;
  const dims = checkQuantizedMatMul(x.shape, packed.shape, scales.shape, zeros.shape, a);
  const outShape = [...x.shape.slice(0, -1), dims.N];
  if (dims.M === 0 || dims.N === 0) return b.makeTensorInfo(outShape, 'float32');
  const { M, N, K } = dims;
  const plan = planQuantizedMatMul(dims, a, options, b.device);
  const x2d = withShape(x, [M, K]);
  const xq = plan.act8 ? b.runWebGPUProgram(new ActQuantProgram(plan), [x2d], 'int32', mUniform(M)) : null;
  // Poisoned output (tests): uploaded by runWebGPUProgram ahead of the dispatch, in order.
  const poisoned = options.poisonOutput ? b.makeTensorInfo([M, N], 'float32', new Float32Array(M * N).fill(NaN)) : undefined;
  const programInputs = xq ? [xq, packed, scales, zeros, xq] : [x2d, packed, scales, zeros];
  const y = b.runWebGPUProgram(new QuantizedMatMulProgram(plan), programInputs, 'float32', mUniform(M), poisoned);
  if (xq) b.disposeData(xq.dataId);
  return withShape(y, outShape);
};

export const quantizedMatMulWebGPUConfig: KernelConfig = {
  kernelName: MbqQuantizedMatMul,
  backendName: 'webgpu',
  kernelFunc: quantizedMatMulWebGPU,
};
