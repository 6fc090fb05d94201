/**
 * 'webgpu' kernel of MbqQuantizedMatMul: plans the variant (quantized_matmul_plan.ts) and runs
 * its programs (quantized_matmul_programs.ts). By default each program is recorded straight into
 * the backend's open compute pass (direct_dispatch.ts: pipelines, the `m` uniform and the bind
 * groups of the weights and of each buffer combination are made once), which is what a decode
 * loop needs; under tf.time / tf.profile, with parallel compilation, or where tfjs-webgpu's
 * internals differ, through backend.runWebGPUProgram like any tfjs op. Both record the same user
 * code and give bit-identical results (tests). Plans and programs are cached per layer shape.
 */
import { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { checkQuantizedMatMul, MbqQuantizedMatMul, MbqQuantizedMatMulAttrs } from '../quantized_matmul_common.js';
import { canRecordDirect, directBackend, DirectLayout, recordDirect } from './direct_dispatch.js';
import { planQuantizedMatMul, QmmOptions, QmmPlan } from './quantized_matmul_plan.js';
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

const QMM_LAYOUT: DirectLayout = {
  constant: ['packed', 'scales', 'zeros'],
  types: { x: 'f32', packed: 'i32', scales: 'f32', zeros: 'f32' },
  output: 'f32',
};
const QMM_ACT8_LAYOUT: DirectLayout = { ...QMM_LAYOUT, types: { ...QMM_LAYOUT.types, x: 'i32', xs: 'i32' } };
const ACT_QUANT_LAYOUT: DirectLayout = { constant: [], types: { x: 'f32' }, output: 'i32' };

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
    p = { plan, program: new QuantizedMatMulProgram(plan), actQuant: plan.act8 ? new ActQuantProgram(plan) : null };
    byKey.set(key, p);
  }
  return p;
}

/** runWebGPUProgram rewrites a program's shaderKey (appending the input shapes): give it a copy. */
function copyOf<T extends object>(program: T): T {
  return Object.assign(Object.create(Object.getPrototypeOf(program) as object) as T, program);
}

export const quantizedMatMulWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as WebGPUBackend;
  const { x, packed, scales, zeros } = inputs as { x: TensorInfo; packed: TensorInfo; scales: TensorInfo; zeros: TensorInfo };
  const a = attrs as unknown as MbqQuantizedMatMulAttrs;
  const dims = checkQuantizedMatMul(x.shape, packed.shape, scales.shape, zeros.shape, a);
  const outShape = [...x.shape.slice(0, -1), dims.N];
  if (dims.M === 0 || dims.N === 0) return b.makeTensorInfo(outShape, 'float32');
  const { M, N, K } = dims;
  const { plan, program, actQuant } = prepare(b, dims, a);
  const x2d = withShape(x, [M, K]);
  const d = options.dispatch === 'program' ? null : directBackend(b);
  const direct = d !== null && canRecordDirect(d);
  let xq: TensorInfo | null = null;
  if (actQuant) {
    xq = b.makeTensorInfo(actQuant.outputShape, 'int32');
    if (!direct || !recordDirect(d, actQuant, ACT_QUANT_LAYOUT, [x2d], xq, M)) {
      b.runWebGPUProgram(copyOf(actQuant), [x2d], 'int32', mUniform(M), xq);
    }
  }
  // Poisoned output (tests): its values are uploaded ahead of the dispatch, in order.
  const y = b.makeTensorInfo([M, N], 'float32', options.poisonOutput ? new Float32Array(M * N).fill(NaN) : undefined);
  const programInputs = xq ? [xq, packed, scales, zeros, xq] : [x2d, packed, scales, zeros];
  if (!direct || !recordDirect(d, program, plan.act8 ? QMM_ACT8_LAYOUT : QMM_LAYOUT, programInputs, y, M)) {
    b.runWebGPUProgram(copyOf(program), programInputs, 'float32', mUniform(M), y);
  }
  if (xq) b.disposeData(xq.dataId);
  return withShape(y, outShape);
};

export const quantizedMatMulWebGPUConfig: KernelConfig = {
  kernelName: MbqQuantizedMatMul,
  backendName: 'webgpu',
  kernelFunc: quantizedMatMulWebGPU,
};
