/** Test and benchmark hooks of the fused webgpu kernels: poisoned outputs, and the dispatch path. */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { RunOptions } from './direct_dispatch.js';
import type { WebGPUBackendLike } from './program.js';

export interface FusedWebGPUOptions {
  /** Fill the output with NaN before the kernel runs, so a kernel that skips an element fails. */
  poisonOutput?: boolean;
  /** 'direct' (default): recorded into the backend's pass (direct_dispatch.ts); 'program': backend.runWebGPUProgram. */
  dispatch?: 'direct' | 'program';
}

let options: FusedWebGPUOptions = {};

export function setFusedWebGPUOptions(o: FusedWebGPUOptions): void {
  options = { ...o };
}

/** The output tensor to hand the program: NaN-filled when poisoning, else undefined (a fresh one). */
export function fusedOutput(gpu: WebGPUBackendLike, shape: number[]): TensorInfo | undefined {
  if (!options.poisonOutput) return undefined;
  const n = shape.reduce((a, b) => a * b, 1);
  return gpu.makeTensorInfo(shape, 'float32', new Float32Array(n).fill(NaN));
}

/** runProgram's options for a fused kernel's output of `shape`; `constant`: its weight inputs. */
export function fusedRunOptions(gpu: WebGPUBackendLike, shape: number[], constant?: readonly string[]): RunOptions {
  return { direct: options.dispatch !== 'program', output: fusedOutput(gpu, shape), constant };
}
