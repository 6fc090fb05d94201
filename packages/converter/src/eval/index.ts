export * from './manifest.js';
export * from './tokenizer.js';
export * from './model_dir.js';
export * from './images.js';
export * from './evaluate.js';
