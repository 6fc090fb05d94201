export { pilResizeRgb, PIL_RESAMPLE_BY_NUMBER, type PilResample } from './pil_resample.js';
export { toRgb, type RgbImage } from './rgb.js';
export {
  findImageProcessorConfig, parseImageProcessorConfig, tinyVlmImageProcessor,
  type AnyresImageProcessorConfig, type ImageProcessorConfig, type Qwen2VlImageProcessorConfig, type Rgb3,
  type SingleImageProcessorConfig,
} from './image_processor_config.js';
export { chwToHwc, preprocessImage, shortestEdgeSize, type PreprocessedImage } from './preprocess.js';
export { fitInside, selectBestResolution } from './anyres.js';
export { smartResize } from './qwen2_vl.js';
