/**
 * One entry point to pick a tfjs backend by name, in Node or in a browser:
 * `auto | webgpu | wasm | cpu | tensorflow`.
 */
import * as tf from '@tensorflow/tfjs-core';
// Node: Dawn (the optional 'webgpu' package); elsewhere: the page's navigator.gpu (package.json "imports").
import { ensureNavigatorGpu } from '#navigator-gpu';
import { checkTfjsVersion, compareVersions, WEBGPU_OLDEST_TFJS } from '../peer_versions.js';
import { describeAdapter, type AdapterReport } from './navigator_gpu.js';
import { quantizedMatMulWasmPath } from '../kernels/wasm/quantized_matmul.js';
import { prepareQuantizedMatMulWasm } from '../kernels/wasm/simd/quantized_matmul_simd.js';

export type BackendName = 'auto' | 'webgpu' | 'wasm' | 'cpu' | 'tensorflow';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'webgpu', 'wasm', 'cpu', 'tensorflow'];
/** A backend that runs: what `auto` resolves to. */
export type ActiveBackendName = Exclude<BackendName, 'auto'>;

export interface BackendReport {
  /** The tfjs backend now active. */
  backend: ActiveBackendName;
  /** Why it was chosen (for `auto`) or what it runs on. */
  detail: string;
  adapter?: AdapterReport;
}

export type { AdapterReport };

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

async function initCpu(): Promise<BackendReport> {
  const { version_cpu } = await import('@tensorflow/tfjs-backend-cpu');
  checkTfjsVersion('@tensorflow/tfjs-backend-cpu', version_cpu);
  await setOrThrow('cpu');
  return { backend: 'cpu', detail: 'plain JavaScript' };
}

async function initWasm(): Promise<BackendReport> {
  const { version_wasm } = await import('@tensorflow/tfjs-backend-wasm');
  checkTfjsVersion('@tensorflow/tfjs-backend-wasm', version_wasm);
  await Promise.all([setOrThrow('wasm'), prepareQuantizedMatMulWasm()]);
  const qmm = quantizedMatMulWasmPath(tf.backend());
  const lowBit = qmm.path === 'simd' ? 'low-bit matmul: wasm SIMD' : `low-bit matmul: unpacked + XNNPACK, because ${qmm.reason}`;
  return { backend: 'wasm', detail: `WebAssembly (XNNPACK; ${lowBit})` };
}

async function initWebgpu(opts: { allowSoftware: boolean }): Promise<BackendReport> {
  // Checked first: the backend of an older tfjs fails deep inside its init with a TypeError.
  if (compareVersions(tf.version_core, WEBGPU_OLDEST_TFJS) < 0) {
    throw new Error(`WebGPU needs tfjs ${WEBGPU_OLDEST_TFJS} or newer; this app has @tensorflow/tfjs-core ${tf.version_core}, ` +
      'whose WebGPU backend calls adapter.requestAdapterInfo(), removed from Dawn and Chrome 131+ (use the wasm or cpu backend, or upgrade tfjs)');
  }
  const gpu = await ensureNavigatorGpu();
  const adapter = await describeAdapter(gpu);
  if (!adapter) throw new Error('WebGPU: no adapter found (in Node on a machine without a GPU, install Mesa lavapipe: see README)');
  if (adapter.software && !opts.allowSoftware) {
    throw new Error(`WebGPU: only a software adapter is present (${adapter.description || adapter.device})`);
  }
  await import('@tensorflow/tfjs-backend-webgpu'); // exports no version; it pins tfjs-core's, checked above
  await setOrThrow('webgpu');
  const name = adapter.description || adapter.device || adapter.vendor;
  return { backend: 'webgpu', detail: `${adapter.software ? 'software' : 'hardware'} adapter: ${name}`, adapter };
}

async function initTensorflow(): Promise<BackendReport> {
  const candidates = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
  for (const pkg of candidates) {
    try {
      await import(/* webpackIgnore: true */ pkg);
      await setOrThrow('tensorflow');
      return { backend: 'tensorflow', detail: `libtensorflow via ${pkg}` };
    } catch {
      // Not installed (or its native library is missing): try the next one.
    }
  }
  throw new Error(
    `backend 'tensorflow' needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu at your tfjs-core's version (${tf.version_core}). ` +
      `Install one with \`npm install @tensorflow/tfjs-node@${tf.version_core}\` on a machine that can download libtensorflow, ` +
      "or choose --backend webgpu, wasm or cpu.",
  );
}

async function setOrThrow(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tfjs could not initialise the '${name}' backend`);
  await tf.ready();
}

/**
 * Initialises the named backend and makes it active. `auto` picks tensorflow if installed,
 * else a hardware WebGPU adapter, else wasm, else cpu, and says which in `detail`.
 */
export async function initBackend(name: BackendName = 'auto'): Promise<BackendReport> {
  switch (name) {
    case 'cpu': return initCpu();
    case 'wasm': return initWasm();
    case 'webgpu': return initWebgpu({ allowSoftware: true });
    case 'tensorflow': return initTensorflow();
    case 'auto': {
      const tried: string[] = [];
      const attempts: Array<[string, () => Promise<BackendReport>]> = [
        ['tensorflow', initTensorflow],
        ['webgpu', () => initWebgpu({ allowSoftware: false })],
        ['wasm', initWasm],
        ['cpu', initCpu],
      ];
      for (const [label, init] of attempts) {
        if (label === 'tensorflow' && !isNode) continue;
        try {
          const report = await init();
          return { ...report, detail: `auto: ${report.detail}${tried.length ? ` (skipped ${tried.join('; ')})` : ''}` };
        } catch (e) {
          tried.push(`${label}: ${(e as Error).message.split('\n')[0]}`);
        }
      }
      throw new Error(`no tfjs backend could be initialised: ${tried.join('; ')}`);
    }
    default:
      throw new Error(`unknown backend '${String(name)}': expected one of ${BACKEND_NAMES.join(', ')}`);
  }
}
