/**
 * Messages between a page and a worker running the model ({@link serveVlmWorker} inside the
 * worker, {@link loadVlmInWorker} on the page). Plain structured-clone data only.
 */
import type { ModelCacheOptions } from '../model_cache.js';
import type { MbqConfig } from '../mbq_config.js';

/** loadVlm options that cross to the worker (no functions: fetch and signal stay on the page). */
export interface WorkerLoadOptions {
  backend?: 'auto' | 'webgpu' | 'wasm' | 'cpu' | 'tensorflow' | 'current';
  kvCache?: boolean;
  timeoutMs?: number;
  allowCrossOrigin?: boolean;
  /** Cache API caching in the worker (a cache name, no storage object). */
  cache?: boolean | Pick<ModelCacheOptions, 'name'>;
  /** Where tfjs-backend-wasm's .wasm files are served (setWasmPaths in the worker), for the wasm backend. */
  wasmPaths?: string;
}

export interface WorkerGenerateOptions {
  maxNewTokens?: number;
  minNewTokens?: number;
}

/** What the page learns about the loaded model. */
export interface WorkerVlmInfo {
  backend: 'webgpu' | 'wasm' | 'cpu' | 'tensorflow';
  backendDetail: string;
  decoding: 'kv-cache' | 're-run';
  decodingNote: string;
  config: MbqConfig;
}

export type ToWorker =
  | { type: 'load'; id: number; location: string; options: WorkerLoadOptions }
  | { type: 'generate'; id: number; image: { data: Uint8ClampedArray | Uint8Array; width: number; height: number }; question: string; options: WorkerGenerateOptions }
  | { type: 'abort'; id: number }
  | { type: 'dispose'; id: number };

export type FromWorker =
  | { type: 'progress'; id: number; progress: import('../vlm.js').LoadProgress }
  | { type: 'loaded'; id: number; info: WorkerVlmInfo }
  | { type: 'token'; id: number; token: import('../vlm.js').GeneratedToken }
  | { type: 'result'; id: number; generation: import('../vlm.js').Generation }
  | { type: 'disposed'; id: number }
  | { type: 'error'; id: number; name: string; message: string };

/** The MessagePort-like side of a Worker (or of the worker's global scope) that both ends use. */
export interface MessageEndpoint {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}
