/** Creates `navigator.gpu` in Node from Dawn (the `webgpu` package) and reports the adapter. */

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU adapters such as Mesa lavapipe or SwiftShader. */
  software: boolean;
}

const SOFTWARE_HINTS = /llvmpipe|lavapipe|swiftshader|software|cpu/i;

interface GpuAdapterInfoLike { vendor?: string; architecture?: string; device?: string; description?: string }
interface GpuAdapterLike { info?: GpuAdapterInfoLike; requestAdapterInfo?: () => Promise<GpuAdapterInfoLike>; features: ReadonlySet<string> }
interface GpuLike { requestAdapter(opts?: object): Promise<GpuAdapterLike | null> }

function navigatorGpu(): GpuLike | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  return nav?.gpu;
}

/**
 * Makes `navigator.gpu` available. In a browser it is already there; in Node it comes from Dawn.
 * Must run before `@tensorflow/tfjs-backend-webgpu` is imported: that module registers its backend
 * only if `navigator.gpu` exists when it is evaluated.
 */
export async function ensureNavigatorGpu(): Promise<GpuLike> {
  const existing = navigatorGpu();
  if (existing) return existing;
  let dawn: { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
  try {
    dawn = (await import('webgpu')) as unknown as typeof dawn;
  } catch (e) {
    throw new Error(`WebGPU is not available: the 'webgpu' package (Dawn) could not be loaded: ${(e as Error).message}`);
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

/** Asks for an adapter and describes it; null when there is none. */
export async function describeAdapter(gpu: GpuLike): Promise<AdapterReport | null> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return null;
  const info: GpuAdapterInfoLike = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
  const text = [info.vendor, info.architecture, info.device, info.description].join(' ');
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    software: SOFTWARE_HINTS.test(text),
  };
}
