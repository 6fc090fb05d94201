/** Weights as plain typed arrays: what every stage of the converter passes around (defined by the format). */
export { sizeOf, bytesPerElement, cloneWeight, type WeightData, type WeightArray, type WeightMap } from '@tfjs-mbq/format';
