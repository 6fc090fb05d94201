export type {
  QuantMethod, LossMode, ScaleFamily, QuantConfig, LinearOverride, ScaleGroupName, ScaleGroup, TokenWeighting,
  ScaleSearchLossKind, ScaleSearchResult,
} from './types.js';
export { searchGroupScale, lossKindFor, meanAbsPerChannel, alphaScales, alphaGrid } from './scale_search.js';
export {
  smoothQuantScales, smoothQuantScalesFrom, channelMaxima, channelMaximaTensor, channelMaximaFrom, type ChannelMaxima,
} from './smoothquant.js';
export {
  validateQuantConfig, weightQuantizer, quantizeWeight, applyLinearOverride, type WeightQuantizer,
} from './weight_quant.js';
