/** Test hook of the fused webgpu kernels: poisoned (NaN-filled) outputs, so a kernel that skips an element fails. */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackendLike } from './program.js';

let poison = false;

export function setFusedWebGPUOptions(o: { poisonOutput?: boolean }): void {
  poison = o.poisonOutput === true;
}

/** The output tensor to hand runWebGPUProgram: NaN-filled when poisoning, else undefined (a fresh one). */
export function fusedOutput(gpu: WebGPUBackendLike, shape: number[]): TensorInfo | undefined {
  if (!poison) return undefined;
  const n = shape.reduce((a, b) => a * b, 1);
  return gpu.makeTensorInfo(shape, 'float32', new Float32Array(n).fill(NaN));
}
