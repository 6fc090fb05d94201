/**
 * Messages between a page and a worker running the model ({@link serveVlmWorker} inside the
 * worker, {@link loadVlmInWorker} on the page). Plain structured-clone data only.
 */
import type { ModelCacheOptions } from '../model_cache.js';
import type { MbqConfig } from '../mbq_config.js';

/** loadVlm options that cross to the worker (no functions: fetch and signal stay on the page). */
export interface WorkerLoadOptions {
  /** tfjs backend in the worker, as loadVlm's `backend` (default `auto`). */
  backend?: 'auto' | 'webgpu' | 'wasm' | 'cpu' | 'tensorflow' | 'current';
  /** As loadVlm's `kvCache` (default true). */
  kvCache?: boolean;
  /** As loadVlm's `timeoutMs`: longest time one model file may take over HTTP (default 120 s). */
  timeoutMs?: number;
  /** As loadVlm's `allowCrossOrigin` (default false). */
  allowCrossOrigin?: boolean;
  /** Cache API caching in the worker (a cache name, no storage object). */
  cache?: boolean | Pick<ModelCacheOptions, 'name'>;
  /** Where tfjs-backend-wasm's .wasm files are served (setWasmPaths in the worker), for the wasm backend. */
  wasmPaths?: string;
}

/** Generation options that cross to the worker (onToken and signal stay on the page). */
export interface WorkerGenerateOptions {
  /** Most answer tokens (default 16), as Vlm.generate's. */
  maxNewTokens?: number;
  /** EOS is not chosen before this many tokens (default 0), as Vlm.generate's. */
  minNewTokens?: number;
}

/** What the page learns about the loaded model. */
export interface WorkerVlmInfo {
  /** The backend the model runs on in the worker (Vlm.backend). */
  backend: 'webgpu' | 'wasm' | 'cpu' | 'tensorflow';
  /** Why that backend (Vlm.backendDetail). */
  backendDetail: string;
  /** How tokens are decoded (Vlm.decoding). */
  decoding: 'kv-cache' | 're-run';
  /** Why, or what the cache holds (Vlm.decodingNote). */
  decodingNote: string;
  /** mbq.json (Vlm.config): image size, special token ids. */
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
  /** Sends a message (transferring `transfer`). */
  postMessage(message: unknown, transfer?: Transferable[]): void;
  /** Listens for messages. */
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  /** Stops listening. */
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}
