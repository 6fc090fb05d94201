/// <reference types="@webgpu/types" />
/**
 * The 'webgpu' MbqQuantizedMatMul kernel as it worked before issue 17 (main at 45a0606), kept so
 * that op_path_bench.ts times the old and the new path in one process. Per call it planned,
 * generated the WGSL (27 KB for a W3 gemv) and looked the pipeline up by that source, created a
 * bind group, and ended the backend's compute pass to record a pass of its own into the
 * backend's private command encoder. Same programs and results as the current kernel.
 */
import { env, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { checkQuantizedMatMul, MbqQuantizedMatMulAttrs } from '../src/kernels/quantized_matmul_common.js';
import { needsActQuant, planQuantizedMatMul } from '../src/kernels/webgpu/quantized_matmul_plan.js';
import { act8Words } from '../src/kernels/webgpu/quantized_matmul_wgsl.js';
import { buildSteps, recordSteps } from './recorded_qmm.js';

/** The parts of WebGPUBackend that are private in its typings, which the old kernel wrote. */
interface BackendEncoderState {
  commandEncoder: GPUCommandEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
}

function gpuBuffer(backend: WebGPUBackend, t: TensorInfo): GPUBuffer {
  backend.uploadToGPU(t.dataId);
  return backend.tensorMap.get(t.dataId).resource as GPUBuffer;
}

export const legacyQuantizedMatMulWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as WebGPUBackend;
  const { x, packed, scales, zeros } = inputs as { x: TensorInfo; packed: TensorInfo; scales: TensorInfo; zeros: TensorInfo };
  const a = attrs as unknown as MbqQuantizedMatMulAttrs;
  const dims = checkQuantizedMatMul(x.shape, packed.shape, scales.shape, zeros.shape, a);
  const out = b.makeTensorInfo([...x.shape.slice(0, -1), dims.N], 'float32');
  if (dims.M === 0 || dims.N === 0) return out;
  const plan = planQuantizedMatMul(dims, a, {}, b.device);
  const temps: TensorInfo[] = needsActQuant(plan) ? [b.makeTensorInfo([dims.M * act8Words(dims.K) + dims.M], 'int32')] : [];
  const steps = buildSteps(b.device, plan, {
    x: gpuBuffer(b, x), packed: gpuBuffer(b, packed), scales: gpuBuffer(b, scales), zeros: gpuBuffer(b, zeros),
    y: gpuBuffer(b, out), xq: temps[0] && gpuBuffer(b, temps[0]),
  });
  const state = b as unknown as BackendEncoderState;
  b.ensureCommandEncoderReady();
  b.endComputePassEncoder();
  const pass = state.commandEncoder!.beginComputePass();
  recordSteps(pass, steps);
  pass.end();
  for (const t of [x, packed, scales, zeros, out, ...temps]) state.commandQueueOwnedIds.add(t.dataId);
  for (const t of temps) b.disposeData(t.dataId);
  state.dispatchCountInPass += steps.length;
  if (state.dispatchCountInPass >= (env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number)) b.submitQueue();
  return out;
};
