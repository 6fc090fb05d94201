/**
 * '#navigator-gpu' in Node (package.json `imports`, condition `node`): creates `navigator.gpu`
 * from Dawn, the optional peer package `webgpu`, loaded only when WebGPU is asked for.
 */
import { DAWN_PEER_RANGE } from '../peer_versions.js';
import { navigatorGpu, type GpuLike } from './navigator_gpu.js';

interface Dawn { create: (flags: string[]) => unknown; globals: Record<string, unknown> }

/**
 * Makes `navigator.gpu` available. Must run before `@tensorflow/tfjs-backend-webgpu` is imported:
 * that module registers its backend only if `navigator.gpu` exists when it is evaluated.
 */
export async function ensureNavigatorGpu(): Promise<GpuLike> {
  const existing = navigatorGpu();
  if (existing) return existing;
  let dawn: Dawn;
  try {
    dawn = (await import('webgpu')) as unknown as Dawn;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' && /'webgpu'/.test(err.message)) {
      throw new Error(`WebGPU in Node needs the optional package 'webgpu' (Dawn, about 130 MB): npm install webgpu@${DAWN_PEER_RANGE}, or use the wasm or cpu backend`);
    }
    throw new Error(`WebGPU is not available: the 'webgpu' package (Dawn) could not be loaded: ${err.message.split('\n')[0]}`);
  }
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]) as GpuLike;
  const g = globalThis as unknown as { navigator?: Record<string, unknown> };
  if (g.navigator) {
    try { Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true }); }
    catch { g.navigator = { ...g.navigator, gpu }; }
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  return gpu;
}
