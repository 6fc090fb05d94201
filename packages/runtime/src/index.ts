/**
 * @tfjs-mbq/runtime: answer questions about images with a converted VLM in TensorFlow.js.
 *
 * ```ts
 * import { loadVlm } from '@tfjs-mbq/runtime';
 * const vlm = await loadVlm('models/tiny-vlm-w4');        // or an http(s) URL
 * const text = await vlm.answer(image, 'what color is the circle?');
 * ```
 * Importing this module registers the MBQ kernels and graph ops (`@tfjs-mbq/ops`, e.g. the
 * `MbqQuantizedMatMul` node of converted models); `registerMbqOps()` does it explicitly (idempotent).
 */
import '@tfjs-mbq/ops';

export { registerMbqOps } from '@tfjs-mbq/ops';

export { loadVlm, Vlm, continuationNll, type LoadVlmOptions, type LoadProgress, type AnswerOptions, type GeneratedToken, type Generation, type TimeDecodeOptions, type DecodeTiming, type ContinuationScore } from './vlm.js';
export { ModelInputs, loadModelInputs } from './model_inputs.js';
export { WordLevelTokenizer, HfTokenizer, type TextTokenizer, type PromptBuilder } from '@tfjs-mbq/format';
export { rgbaOf, type ImageInput, type RgbaImage, type HasBitmap, type BrowserImage } from './image.js';
export { modelImage, toPixelValues, type ModelImage } from './model_image.js';
export { IMAGE_LIMITS, checkImageHeader, type ImageHeader } from '@tfjs-mbq/format';
export { parseMbqConfig, type MbqConfig } from './mbq_config.js';
export type { FetchLike } from './sources.js';
export { listCachedModels, deleteCachedModel, DEFAULT_MODEL_CACHE, type CachedModel, type ModelCacheOptions, type CacheLike, type CacheStorageLike } from './model_cache.js';
export { initBackend, type BackendName, type BackendReport } from '@tfjs-mbq/ops/backends';
export { serveVlmWorker } from './worker/host.js';
export type { WorkerLoadOptions, WorkerGenerateOptions, WorkerVlmInfo, MessageEndpoint } from './worker/protocol.js';
