/**
 * '#navigator-gpu' outside Node (package.json `imports`, condition `default`): browsers and
 * workers have `navigator.gpu` or no WebGPU at all. Keeps Dawn out of browser bundles.
 */
import { navigatorGpu, type GpuLike } from './navigator_gpu.js';

export async function ensureNavigatorGpu(): Promise<GpuLike> {
  const gpu = navigatorGpu();
  if (!gpu) throw new Error('WebGPU is not available: this browser has no navigator.gpu');
  return gpu;
}
