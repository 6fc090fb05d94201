/** Loading a model on WebGPU in tests: lavapipe in CI (must work), skipped on a machine without an adapter. */
import { loadVlm, type Vlm } from '@tfjs-mbq/runtime';

/** The model on webgpu, or null (with a warning) outside CI when no Vulkan/WebGPU adapter exists. */
export async function loadVlmOnWebgpu(dir: string): Promise<Vlm | null> {
  try {
    return await loadVlm(dir, { backend: 'webgpu' });
  } catch (e) {
    if (process.env.CI === 'true') throw e;
    console.warn(`webgpu part skipped: ${(e as Error).message}`);
    return null;
  }
}
