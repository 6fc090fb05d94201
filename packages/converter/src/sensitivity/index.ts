export { captionCrossEntropy, summedCaptionLoss } from './cross_entropy.js';
export { lowerMedian, clampByMedian } from './median.js';
export {
  measureSensitivity, groupRatio,
  type ProbeSite, type ProbeSpec, type SensitivitySample, type LossWithProbes, type SiteSensitivity,
  type BlockSensitivity, type SensitivityResult, type SensitivityOptions,
} from './measure.js';
export { ensureGradients } from './gradients.js';
