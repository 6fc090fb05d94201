// @tfjs-mbq/importer: Hugging Face checkpoint -> tfjs-mbq model directory (Node).
export { ImportError, isImportError, type ImportErrorCode } from './errors.js';
export * from './safetensors/index.js';
export type { Ops } from './graph/ops.js';
export { GraphOps, type ParamData } from './graph/graph_ops.js';
export * from './graph/layers.js';
export { importCheckpoint, maxPositionsProblem, DEFAULT_SHARD_BYTES, type ImportOptions, type ImportResult, type ImportedMbqJson } from './import.js';
export { isHfCheckpointDir, readHfDir, HF_SIDECAR_FILES, type HfDirFiles } from './hf_dir.js';
export { planArchitecture, reimportInputs, SUPPORTED_ARCHITECTURES, type ArchitecturePlan, type PlanInputs } from './arch/index.js';
export { floatToHalfBits } from './write/half.js';
export { fuseModelDir } from './fuse.js';
export { loadWeight, type WeightSpec, type WeightTransform } from './arch/plan.js';
