// @tfjs-mbq/importer: Hugging Face checkpoint -> tfjs-mbq model directory (Node).
export { ImportError, isImportError, type ImportErrorCode } from './errors.js';
export * from './safetensors/index.js';
export type { Ops } from './graph/ops.js';
export { GraphOps, type ParamData } from './graph/graph_ops.js';
export * from './graph/layers.js';
