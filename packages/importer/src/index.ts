// @tfjs-mbq/importer: Hugging Face checkpoint -> tfjs-mbq model directory (Node).
export { ImportError, isImportError, type ImportErrorCode } from './errors.js';
export * from './safetensors/index.js';
