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
  const running = new Map<number, AbortController>();
  const post = (m: FromWorker): void => scope.postMessage(m);
  const fail = (id: number, e: unknown): void => {
    // Duck-typed: an abort's DOMException (or an error of another realm) is not always instanceof Error.
    const err = e as { name?: unknown; message?: unknown } | null;
    const errorLike = typeof err === 'object' && err !== null && typeof err.message === 'string';
    post({ type: 'error', id, name: errorLike && typeof err.name === 'string' ? err.name : 'Error', message: errorLike ? (err.message as string) : String(e) });
  };
  scope.addEventListener('message', (event: MessageEvent) => {
    const m = event.data as ToWorker;
    switch (m.type) {
      case 'load':
        void (async () => {
          try {
            if (vlm) throw new Error('serveVlmWorker: a model is already loaded in this worker; dispose it first');
            if (m.options.wasmPaths) {
              if (!options.setWasmPaths) throw new Error('serveVlmWorker: wasmPaths needs setWasmPaths (pass it from @tensorflow/tfjs-backend-wasm)');
              options.setWasmPaths(m.options.wasmPaths);
            }
            vlm = await loadVlm(m.location, {
              backend: m.options.backend, kvCache: m.options.kvCache, timeoutMs: m.options.timeoutMs,
              allowCrossOrigin: m.options.allowCrossOrigin, cache: m.options.cache,
              onProgress: (progress) => post({ type: 'progress', id: m.id, progress }),
            });
            post({ type: 'loaded', id: m.id, info: { backend: vlm.backend, backendDetail: vlm.backendDetail, decoding: vlm.decoding, decodingNote: vlm.decodingNote, config: vlm.config } });
          } catch (e) {
            fail(m.id, e);
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
        for (const c of running.values()) c.abort();
        vlm?.dispose();
        vlm = null;
        post({ type: 'disposed', id: m.id });
        break;
      default:
        fail((m as { id?: number }).id ?? -1, new Error(`serveVlmWorker: unknown message ${JSON.stringify((m as { type?: unknown }).type)}`));
    }
  });
}
