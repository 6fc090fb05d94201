export type { DecoderLayerWeights, LmWeightView } from './types.js';
export { rotateLm, residualRotationMatrix, type RotateOptions, type RotatedLm } from './rotate.js';
