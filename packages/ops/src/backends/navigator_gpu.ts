/** `navigator.gpu` and its adapter, shared by the Node (Dawn) and browser entries of '#navigator-gpu'. */

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
export interface GpuLike { requestAdapter(opts?: object): Promise<GpuAdapterLike | null> }

/** The page's (or Dawn's, once installed) `navigator.gpu`, if any. */
export function navigatorGpu(): GpuLike | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  return nav?.gpu;
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
