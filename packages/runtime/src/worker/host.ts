/**
 * The worker side: `serveVlmWorker()` in a module worker's script answers the page's
 * {@link loadVlmInWorker}: it loads the model, streams load progress and tokens back, and stops a
 * generation when the page aborts it. The model and tfjs live only in the worker, so the page's
 * thread stays free while the model runs.
 */
import { loadVlm, type Vlm } from '../vlm.js';
import type { FromWorker, MessageEndpoint, ToWorker } from './protocol.js';

/**
 * Serves one model to the page through `scope` (default: the worker's global scope). `setWasmPaths`
 * is the wasm backend's (pass it from `@tensorflow/tfjs-backend-wasm` so that `wasmPaths` applies).
 */
export function serveVlmWorker(options: { scope?: MessageEndpoint; setWasmPaths?: (prefix: string) => void } = {}): void {
  const scope = options.scope ?? (globalThis as unknown as MessageEndpoint);
  let vlm: Vlm | null = null;
  /** True while a load runs: a second load is refused, not raced (the first model would leak). */
  let loading = false;
  /** Bumped by dispose: a load that finishes after it disposes its model instead of keeping it. */
  let epoch = 0;
  const running = new Map<number, AbortController>();
  const post = (m: FromWorker): void => scope.postMessage(m);
  const fail = (id: number, e: unknown): void => {
    // Duck-typed: an abort's DOMException (or an error of another realm) is not always instanceof Error.
    const err = e as { name?: unknown; message?: unknown } | null;
    const errorLike = typeof err === 'object' && err !== null && typeof err.message === 'string';
    post({ type: 'error', id, name: errorLike && typeof err.name === 'string' ? err.name : 'Error', message: errorLike ? (err.message as string) : String(e) });
  };
  scope.addEventListener('message', (event: MessageEvent) => {
    const problem = messageProblem(event.data);
    if (problem) {
      const id = (event.data as { id?: unknown } | null)?.id;
      fail(Number.isSafeInteger(id) ? id as number : -1, new Error(`serveVlmWorker: ${problem}`));
      return;
    }
    const m = event.data as ToWorker;
    switch (m.type) {
      case 'load':
        void (async () => {
          const started = epoch;
          try {
            if (vlm || loading) throw new Error(`serveVlmWorker: a model is already ${vlm ? 'loaded' : 'loading'} in this worker; dispose it first`);
            loading = true;
            if (m.options.wasmPaths) {
              if (!options.setWasmPaths) throw new Error('serveVlmWorker: wasmPaths needs setWasmPaths (pass it from @tensorflow/tfjs-backend-wasm)');
              options.setWasmPaths(m.options.wasmPaths);
            }
            vlm = await loadVlm(m.location, {
              backend: m.options.backend, kvCache: m.options.kvCache, timeoutMs: m.options.timeoutMs,
              allowCrossOrigin: m.options.allowCrossOrigin, cache: m.options.cache,
              onProgress: (progress) => post({ type: 'progress', id: m.id, progress }),
            });
            if (epoch !== started) {
              vlm.dispose();
              vlm = null;
              throw new Error('serveVlmWorker: the worker was disposed while the model loaded');
            }
            post({ type: 'loaded', id: m.id, info: { backend: vlm.backend, backendDetail: vlm.backendDetail, decoding: vlm.decoding, decodingNote: vlm.decodingNote, config: vlm.config } });
          } catch (e) {
            fail(m.id, e);
          } finally {
            if (epoch === started) loading = false;
          }
        })();
        break;
      case 'generate': {
        const controller = new AbortController();
        running.set(m.id, controller);
        void (async () => {
          try {
            if (!vlm) throw new Error('generate: no model loaded in the worker');
            const generation = await vlm.generate(m.image, m.question, {
              ...m.options, signal: controller.signal,
              onToken: (token) => post({ type: 'token', id: m.id, token }),
            });
            post({ type: 'result', id: m.id, generation });
          } catch (e) {
            fail(m.id, e);
          } finally {
            running.delete(m.id);
          }
        })();
        break;
      }
      case 'abort':
        running.get(m.id)?.abort();
        break;
      case 'dispose':
        epoch++;
        loading = false;
        for (const c of running.values()) c.abort();
        vlm?.dispose();
        vlm = null;
        post({ type: 'disposed', id: m.id });
        break;
    }
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Why `data` is not a ToWorker message (undefined when it is): every field the handler reads has
 * the protocol's type, so a message of another shape gets one error reply, not a TypeError.
 */
function messageProblem(data: unknown): string | undefined {
  // Typed arrays are checked by tag, not instanceof: a message's arrays may come from another realm.
  if (!isObject(data)) return `a message must be an object, got ${data === null ? 'null' : typeof data}`;
  if (!['load', 'generate', 'abort', 'dispose'].includes(data.type as string)) return `unknown message ${JSON.stringify(data.type)}`;
  const t = data.type as ToWorker['type'];
  if (!Number.isSafeInteger(data.id)) return `${t}: "id" must be an integer`;
  if (t === 'load') {
    if (typeof data.location !== 'string') return 'load: "location" must be a string';
    if (!isObject(data.options)) return 'load: "options" must be an object';
  }
  if (t === 'generate') {
    if (typeof data.question !== 'string') return 'generate: "question" must be a string';
    if (!isObject(data.options)) return 'generate: "options" must be an object';
    const img = data.image;
    if (!isObject(img) || !['[object Uint8Array]', '[object Uint8ClampedArray]'].includes(Object.prototype.toString.call(img.data)) || !Number.isSafeInteger(img.width) || !Number.isSafeInteger(img.height)) {
      return 'generate: "image" must be { data: Uint8Array | Uint8ClampedArray, width, height }';
    }
  }
  return undefined;
}
