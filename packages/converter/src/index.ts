export * from './graph/types.js';
export * from './graph/builder.js';
export { ConversionError, isConversionError, type ConversionErrorCode } from './io/errors.js';
export { loadModelDir, type LoadedModel, type MbqJson, type LoadOptions } from './io/load.js';
export { AtomicOutputDir, checkOutputDir, checkOutputPath, type OutputDirOptions } from './io/atomic.js';
export { decodeImage, readImageFile, imageToRgb, type DecodedImage } from './io/image_file.js';
export { modelArtifacts, dirHandler } from './io/artifacts.js';
export type { WeightArray, WeightMap, WeightData } from './io/weights.js';
export { GraphExecutor, type ExecuteOptions, type NodeOverride } from './graph/executor.js';
export { analyseGraph, type GraphAnalysis, type BlockInfo, type GroupInfo, type LinearInfo, type FoldTarget } from './graph/analysis.js';
export * from './search/index.js';
export * from './sensitivity/index.js';
export * from './rotate/index.js';
export { convert, checkConvertOptions, quantizedOverrides, type ConvertResult, type ConvertOptions, type ProgressEvent, type Stage } from './convert.js';
export { loadCalibration, selectIndices, type CalibSample, type CalibSet } from './calib/load.js';
export { loadTokenizer, type Tokenizer } from './calib/tokenizer.js';
export type { QuantizationJson, GroupRecord } from './emit/quantization_json.js';
export { renderReport } from './emit/report.js';

