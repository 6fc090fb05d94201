/// <reference types="@webgpu/types" />
/**
 * 'webgpu' kernel of MbqQuantizedMatMul: records the planned dispatch steps
 * (quantized_matmul_pipelines.ts) into the tfjs webgpu backend's own command encoder, in a
 * compute pass of their own, so they are ordered with every other tfjs op and submitted with
 * the backend's batches.
 */
import { env, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { checkQuantizedMatMul, MbqQuantizedMatMul, MbqQuantizedMatMulAttrs } from '../quantized_matmul_common.js';
import { buildSteps, planQuantizedMatMul, QmmOptions, recordSteps } from './quantized_matmul_pipelines.js';

/** The parts of WebGPUBackend that are private in its typings but needed to share its encoder. */
interface BackendEncoderState {
  commandEncoder: GPUCommandEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
}

let options: QmmOptions = {};

/** Test and benchmark hook: force a variant or tiling of the webgpu kernel. */
export function setQuantizedMatMulWebGPUOptions(o: QmmOptions): void {
  options = { ...o };
}

function gpuBuffer(backend: WebGPUBackend, t: TensorInfo): GPUBuffer {
  backend.uploadToGPU(t.dataId);
  const resource = backend.tensorMap.get(t.dataId).resource;
  if (!(resource instanceof GPUBuffer)) throw new Error('quantizedMatMul (webgpu): input is not held in a GPUBuffer');
  return resource;
}

export const quantizedMatMulWebGPU: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as WebGPUBackend;
  const { x, packed, scales, zeros } = inputs as { x: TensorInfo; packed: TensorInfo; scales: TensorInfo; zeros: TensorInfo };
  const a = attrs as unknown as MbqQuantizedMatMulAttrs;
  const dims = checkQuantizedMatMul(x.shape, packed.shape, scales.shape, zeros.shape, a);
  const outShape = [...x.shape.slice(0, -1), dims.N];
  const out = b.makeTensorInfo(outShape, 'float32');
  if (dims.M === 0 || dims.N === 0) return out;
  const plan = planQuantizedMatMul(dims, a, options, b.device);
  const temps: TensorInfo[] = [];
  if (plan.act8) {
    temps.push(b.makeTensorInfo([dims.M, plan.act8Words], 'int32'), b.makeTensorInfo([dims.M], 'float32'));
  }
  const steps = buildSteps(b.device, plan, {
    x: gpuBuffer(b, x), packed: gpuBuffer(b, packed), scales: gpuBuffer(b, scales), zeros: gpuBuffer(b, zeros),
    y: gpuBuffer(b, out), xq: temps[0] && gpuBuffer(b, temps[0]), xs: temps[1] && gpuBuffer(b, temps[1]),
  });
  const state = b as unknown as BackendEncoderState;
  if (options.poisonOutput) {
    // Submit what is pending first: writeBuffer runs at the next submit, before recorded work.
    b.ensureCommandEncoderReady();
    b.endComputePassEncoder();
    b.submitQueue();
    b.device.queue.writeBuffer(gpuBuffer(b, out), 0, new Float32Array(dims.M * dims.N).fill(NaN));
  }
  b.ensureCommandEncoderReady();
  b.endComputePassEncoder();
  const pass = state.commandEncoder!.beginComputePass();
  recordSteps(pass, steps);
  pass.end();
  // Keep the buffers out of the pool until this encoder is submitted (as runWebGPUProgram does).
  for (const t of [x, packed, scales, zeros, out, ...temps]) state.commandQueueOwnedIds.add(t.dataId);
  for (const t of temps) b.disposeData(t.dataId);
  state.dispatchCountInPass += steps.length;
  if (state.dispatchCountInPass >= (env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number)) b.submitQueue();
  return out;
};

export const quantizedMatMulWebGPUConfig: KernelConfig = {
  kernelName: MbqQuantizedMatMul,
  backendName: 'webgpu',
  kernelFunc: quantizedMatMulWebGPU,
};
