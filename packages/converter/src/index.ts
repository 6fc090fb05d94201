export * from './graph/types.js';
export * from './graph/builder.js';
export { ConversionError, isConversionError, type ConversionErrorCode } from './io/errors.js';
export { loadModelDir, validateModelJson, resolveShardPath, type LoadedModel, type MbqJson, type LoadOptions } from './io/load.js';
export { AtomicOutputDir, checkOutputPath } from './io/atomic.js';
export { modelArtifacts, dirHandler } from './io/artifacts.js';
export type { WeightArray, WeightMap, WeightData } from './io/weights.js';
export { GraphExecutor, type ExecuteOptions, type NodeOverride } from './graph/executor.js';
export { analyseGraph, type GraphAnalysis, type BlockInfo, type GroupInfo, type LinearInfo, type FoldTarget } from './graph/analysis.js';
