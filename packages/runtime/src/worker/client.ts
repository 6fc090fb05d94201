/**
 * `@tfjs-mbq/runtime/worker`: the page side of running a model in a Web Worker. It imports no
 * tfjs: the model runs in the worker (whose script calls `serveVlmWorker()` of
 * `@tfjs-mbq/runtime`), the page keeps its thread for the UI.
 *
 * ```ts
 * const worker = new Worker(new URL('./vlm_worker.js', import.meta.url), { type: 'module' });
 * const vlm = await loadVlmInWorker(worker, '/models/tiny-vlm-w4/', { onProgress: (p) => ... });
 * const { text } = await vlm.generate(canvas, 'what is at the top left ?', { onToken: (t) => ... });
 * ```
 */
import { rgbaOf, type ImageInput } from '../image.js';
import type { GeneratedToken, Generation, LoadProgress } from '../vlm.js';
import type { FromWorker, MessageEndpoint, ToWorker, WorkerGenerateOptions, WorkerLoadOptions, WorkerVlmInfo } from './protocol.js';

export type { WorkerLoadOptions, WorkerGenerateOptions, WorkerVlmInfo, MessageEndpoint } from './protocol.js';
export type { GeneratedToken, Generation, LoadProgress } from '../vlm.js';
export type { ImageInput } from '../image.js';
// The Cache API is the origin's, shared by the page and its workers: manage cached models from here.
export { listCachedModels, deleteCachedModel, DEFAULT_MODEL_CACHE, type CachedModel, type ModelCacheOptions } from '../model_cache.js';

/** Options of {@link loadVlmInWorker}: loadVlm's that can cross to a worker, plus progress. */
export interface LoadInWorkerOptions extends WorkerLoadOptions {
  /** Load progress, as loadVlm's onProgress, relayed from the worker. */
  onProgress?: (progress: LoadProgress) => void;
}

/** Options of {@link WorkerVlm.generate}: as Vlm.generate's. */
export interface WorkerGenerateCallOptions extends WorkerGenerateOptions {
  /** Each generated token, relayed from the worker as it is chosen. */
  onToken?: (token: GeneratedToken) => void;
  /** Stops the generation in the worker; the call rejects with an AbortError. */
  signal?: AbortSignal;
}

/** The signal's reason when it is an error (a DOMException AbortError by default), else an AbortError. */
function abortError(reason: unknown): Error {
  const r = reason as { name?: unknown; message?: unknown } | null;
  if (typeof r === 'object' && r !== null && typeof r.name === 'string' && typeof r.message === 'string') return r as Error;
  const e = new Error(typeof reason === 'string' ? reason : 'The operation was aborted.');
  e.name = 'AbortError';
  return e;
}

/** A model loaded in a worker: the Vlm calls an app needs, each a message round trip. */
export class WorkerVlm {
  private nextId = 1;
  private disposed = false;
  /** @internal Use {@link loadVlmInWorker}. */
  constructor(private readonly worker: MessageEndpoint, readonly info: WorkerVlmInfo) {}

  /** The backend the model runs on in the worker. */
  get backend(): WorkerVlmInfo['backend'] { return this.info.backend; }
  get backendDetail(): string { return this.info.backendDetail; }
  get decoding(): WorkerVlmInfo['decoding'] { return this.info.decoding; }
  get decodingNote(): string { return this.info.decodingNote; }
  get config(): WorkerVlmInfo['config'] { return this.info.config; }

  /**
   * Greedy decoding in the worker, as Vlm.generate: the image's RGBA pixels are read here (an
   * element or canvas is drawn once) and transferred; tokens stream back through `onToken`.
   */
  generate(image: ImageInput, question: string, options: WorkerGenerateCallOptions = {}): Promise<Generation> {
    if (this.disposed) return Promise.reject(new Error('generate: the worker model was disposed'));
    if (options.signal?.aborted) return Promise.reject(abortError(options.signal.reason));
    const rgba = rgbaOf(image);
    // A copy the worker owns (transferred, not cloned): the caller's pixels stay as they are.
    const data = new Uint8ClampedArray(rgba.data);
    const id = this.nextId++;
    const { onToken, signal, ...rest } = options;
    return new Promise<Generation>((resolve, reject) => {
      const onAbort = (): void => this.worker.postMessage({ type: 'abort', id } satisfies ToWorker);
      const listener = (event: MessageEvent): void => {
        // Other messages on the port (another sender's, or null) are not ours: ignored.
        const m = event.data as FromWorker | null;
        if (m?.id !== id) return;
        if (m.type === 'token') { try { onToken?.(m.token); } catch (e) { onAbort(); done(); reject(e); } return; }
        if (m.type === 'result') { done(); resolve(m.generation); return; }
        if (m.type === 'error') {
          done();
          reject(m.name === 'AbortError' && signal ? abortError(signal.reason) : Object.assign(new Error(m.message), { name: m.name }));
        }
      };
      const done = (): void => {
        this.worker.removeEventListener('message', listener);
        signal?.removeEventListener('abort', onAbort);
      };
      this.worker.addEventListener('message', listener);
      signal?.addEventListener('abort', onAbort);
      const msg: ToWorker = { type: 'generate', id, image: { data, width: rgba.width, height: rgba.height }, question, options: rest };
      this.worker.postMessage(msg, [data.buffer]);
    });
  }

  /** The answer text (see {@link generate}). */
  async answer(image: ImageInput, question: string, options: WorkerGenerateCallOptions = {}): Promise<string> {
    return (await this.generate(image, question, options)).text;
  }

  /** Frees the model in the worker (the worker itself stays the caller's to terminate). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await request(this.worker, { type: 'dispose', id: this.nextId++ }, 'disposed');
  }
}

/** Sends `msg` and waits for the reply of type `want` with its id (or its error). */
function request<T extends FromWorker['type']>(worker: MessageEndpoint, msg: ToWorker, want: T, onOther?: (m: FromWorker) => void): Promise<Extract<FromWorker, { type: T }>> {
  return new Promise((resolve, reject) => {
    const listener = (event: MessageEvent): void => {
      const m = event.data as FromWorker | null;
      if (m?.id !== msg.id) return;
      if (m.type === want) { worker.removeEventListener('message', listener); resolve(m as Extract<FromWorker, { type: T }>); return; }
      if (m.type === 'error') { worker.removeEventListener('message', listener); reject(Object.assign(new Error(m.message), { name: m.name })); return; }
      onOther?.(m);
    };
    worker.addEventListener('message', listener);
    worker.postMessage(msg);
  });
}

/**
 * Loads a model in `worker` (a module Worker whose script calls `serveVlmWorker()`), relaying
 * its load progress. Options are loadVlm's that can cross to a worker, plus `wasmPaths`.
 */
export async function loadVlmInWorker(worker: MessageEndpoint, location: string, options: LoadInWorkerOptions = {}): Promise<WorkerVlm> {
  const { onProgress, ...rest } = options;
  const reply = await request(worker, { type: 'load', id: 0, location, options: rest }, 'loaded', (m) => {
    if (m.type === 'progress') onProgress?.(m.progress);
  });
  return new WorkerVlm(worker, reply.info);
}
