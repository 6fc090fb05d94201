/**
 * 'webgpu' kernel of MbqQuantizedMatMul: plans the variant (quantized_matmul_plan.ts) and runs
 * its programs (quantized_matmul_programs.ts). By default each program is recorded straight into
 * the backend's open compute pass (direct_dispatch.ts: pipelines, the `m` uniform and the bind
 * groups of the weights and of each buffer combination are made once), which is what a decode
 * loop needs, else through backend.runWebGPUProgram (runProgram says when). Both record the
 * same user code and give bit-identical results (tests). Plans and programs are cached per layer shape.
 */
import { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { checkQuantizedMatMul, MbqQuantizedMatMul, MbqQuantizedMatMulAttrs } from '../quantized_matmul_common.js';
import { runProgram } from './direct_dispatch.js';
import { needsActQuant, planQuantizedMatMul, QmmOptions, QmmPlan } from './quantized_matmul_plan.js';
import { ActQuantProgram, mUniform, QuantizedMatMulProgram } from './quantized_matmul_programs.js';
import { withShape } from './program.js';

let options: QmmOptions = {};

interface Prepared {
  plan: QmmPlan;
  program: QuantizedMatMulProgram;
  actQuant: ActQuantProgram | null;
}

/** Plans and programs per device and (bits, group, actBits, K, N, M); cleared when options change. */
let prepared = new WeakMap<object, Map<string, Prepared>>();

/** Test and benchmark hook: force a variant or tiling of the webgpu kernel, or its dispatch path. */
export function setQuantizedMatMulWebGPUOptions(o: QmmOptions): void {
  options = { ...o };
  prepared = new WeakMap();
}

/** The weights: bound once per layer (direct_dispatch.ts). */
const WEIGHTS = ['packed', 'scales', 'zeros'] as const;

function prepare(b: WebGPUBackend, dims: ReturnType<typeof checkQuantizedMatMul>, a: MbqQuantizedMatMulAttrs): Prepared {
  let byKey = prepared.get(b.device);
  if (!byKey) {
    byKey = new Map();
    prepared.set(b.device, byKey);
  }
  const key = `${a.bits}_${a.groupSize}_${a.actBits}_${dims.K}_${dims.N}_${dims.M}`;
  let p = byKey.get(key);
  if (!p) {
    const plan = planQuantizedMatMul(dims, a, options, b.device);
    p = { plan, program: new QuantizedMatMulProgram(plan), actQuant: needsActQuant(plan) ? new ActQuantProgram(plan) : null };
    byKey.set(key, p);
  }
  return p;
}

export const quantizedMatMulWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as WebGPUBackend;
  const { x, packed, scales, zeros } = inputs as { x: TensorInfo; packed: TensorInfo; scales: TensorInfo; zeros: TensorInfo };
  const a = attrs as unknown as MbqQuantizedMatMulAttrs;
  const dims = checkQuantizedMatMul(x.shape, packed.shape, scales.shape, zeros.shape, a);
  const outShape = [...x.shape.slice(0, -1), dims.N];
  if (dims.M === 0 || dims.N === 0) return b.makeTensorInfo(outShape, 'float32');
  const { M, N, K } = dims;
  const { program, actQuant } = prepare(b, dims, a);
  const x2d = withShape(x, [M, K]);
  const direct = options.dispatch !== 'program';
  const xq = actQuant ? runProgram(b, actQuant, [x2d], 'int32', mUniform(M), { direct }) : null;
  // Poisoned output (tests): its values are uploaded ahead of the dispatch, in order.
  const output = options.poisonOutput ? b.makeTensorInfo([M, N], 'float32', new Float32Array(M * N).fill(NaN)) : undefined;
  const programInputs = xq ? [xq, packed, scales, zeros, xq] : [x2d, packed, scales, zeros];
  const y = runProgram(b, program, programInputs, 'float32', mUniform(M), { direct, constant: WEIGHTS, output });
  if (xq) b.disposeData(xq.dataId);
  return withShape(y, outShape);
};

export const quantizedMatMulWebGPUConfig: KernelConfig = {
  kernelName: MbqQuantizedMatMul,
  backendName: 'webgpu',
  kernelFunc: quantizedMatMulWebGPU,
};
