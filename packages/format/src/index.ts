// @tfjs-mbq/format: the one home of the on-disk model format. Browser-safe: imports nothing of ours
// and no Node built-ins (Node-only sources live behind their own entry points).
export const FORMAT_PACKAGE = '@tfjs-mbq/format';
export * from './hf/index.js';
