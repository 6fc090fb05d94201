// Type-checked inside the app fixture under moduleResolution node16, bundler and node10
// (test/npm_app.test.ts): the published typings resolve, subpaths included, and are strict-clean.
// The converter is checked apart (app_types_converter.ts): its typings include jimp's.
import { loadVlm, type ImageInput, type Vlm } from '@tfjs-mbq/runtime';
import { initBackend, type ActiveBackendName, type BackendName } from '@tfjs-mbq/ops/backends';
import { quantizeGroupwise, TFJS_PEER_RANGE } from '@tfjs-mbq/ops';

export async function answer(image: ImageInput, question: string, backend: BackendName): Promise<string> {
  const vlm: Vlm = await loadVlm('https://models.example/tiny-vlm/model.json', { backend });
  const ran: ActiveBackendName = vlm.backend;
  return `${ran}: ${await vlm.answer(image, question, { maxNewTokens: 8 })}`;
}

export const range: string = TFJS_PEER_RANGE;
export const quantize: typeof quantizeGroupwise = quantizeGroupwise;
export const init: typeof initBackend = initBackend;

// The page side of a Web Worker (no tfjs): its own subpath, typed under node10 through typesVersions.
import { loadVlmInWorker, type WorkerVlm } from '@tfjs-mbq/runtime/worker';

export async function inWorker(worker: Parameters<typeof loadVlmInWorker>[0], image: ImageInput): Promise<string> {
  const vlm: WorkerVlm = await loadVlmInWorker(worker, 'https://models.example/tiny-vlm/', { backend: 'wasm', onProgress: (p) => void p.loadedBytes });
  const ran: ActiveBackendName = vlm.backend;
  return `${ran}: ${await vlm.answer(image, 'what is it ?', { onToken: (t) => void t.delta })}`;
}
