// @tfjs-mbq/format: the one home of the on-disk model format. Browser-safe: imports nothing of ours
// and no Node built-ins (the file-system source lives behind `@tfjs-mbq/format/node`).
export * from './errors.js';
export * from './graph_model.js';
export * from './validate_model_json.js';
export * from './weights.js';
export * from './half.js';
export * from './paths.js';
export * from './source.js';
export * from './fetch_source.js';
export * from './read_model.js';
export * from './mbq_json.js';
export * from './manifest.js';
export * from './quantized_matmul_node.js';
export * from './fused_nodes.js';
export * from './tokenizer/index.js';
export * from './hf/index.js';
export { IMAGE_LIMITS, checkImageHeader, readImageHeader, imageSizeError, type ImageHeader } from './image_header.js';
