/**
 * @tfjs-mbq/eval: accuracy (exact match, per question type) and caption perplexity of a model
 * directory on a manifest, through the runtime's `loadVlm` (engine `runtime`, the default: the path
 * users run) or the converter's batched executor (engine `executor`, faster on wasm). Node.
 */
export { evaluate, loadEvalEngine, formatEvalReport, type EvalOptions, type EvalProgress, type LoadEngineOptions, type EvalReport, type TypeScore, type Prediction } from './evaluate.js';
export { ENGINE_NAMES, type EngineName, type EvalEngine, type QuestionInput, type CaptionInput } from './engines/engine.js';
export { RuntimeEngine } from './engines/runtime.js';
export { ExecutorEngine } from './engines/executor.js';
export { normalizeAnswer } from './answer.js';
export { readReference, parseReference, compareWithReference, formatReferenceComparison, type ReferenceAnswer, type ReferenceComparison, type AnswerDifference } from './reference.js';
export { readManifest, type ManifestItem, type QuestionItem, type CaptionItem } from './manifest.js';
export { loadImage, loadImagePixels, ImageCache } from './images.js';
