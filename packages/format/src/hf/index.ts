export { HfTokenizer, type SpecialTokens } from './tokenizer.js';
export { checkTokenizerLimits, isQuantifierFree, regexProblem, KNOWN_PRETOKENIZER_PATTERNS, MAX_TOKEN_CHARS, MAX_TOKENIZER_DEPTH } from './tokenizer_limits.js';
export { BoundedTemplate, TemplateLimitError, DEFAULT_RENDER_LIMITS, MAX_TEMPLATE_CHARS, MAX_TEMPLATE_INT, MAX_TEMPLATE_RANGE, type RenderLimits } from './bounded_jinja.js';
export { ChatTemplate, resolveChatTemplate, imageQuestion, type ChatMessage, type ChatContent, type ChatTemplateSources } from './chat_template.js';
export {
  imageTokenCount, expandImageTokens, selectBestResolution,
  type ImageTokenRule, type LlavaImageTokens, type LlavaOnevisionImageTokens, type Qwen2VlImageTokens, type ProcessedImageShape, type FeatureSelectStrategy,
} from './image_tokens.js';
export { imageTokenRuleFromHf, imageProcessorConfig, SUPPORTED_MODEL_TYPES, type ProcessorFiles } from './processor_config.js';
export { HfPrompt, hfPromptFromFiles, type HfPromptOptions, type HfTextFiles } from './prompt.js';
export { HF_SIDECAR_FILES, readHfModelFiles, type HfModelFiles, type HfSidecarFile } from './model_files.js';
export { pilResizeRgb, PIL_RESAMPLE_BY_NUMBER, type PilResample } from './pil_resample.js';
export { toRgb, type RgbImage } from './rgb.js';
export {
  findImageProcessorConfig, parseImageProcessorConfig, tinyVlmImageProcessor,
  type AnyresImageProcessorConfig, type ImageProcessorConfig, type Qwen2VlImageProcessorConfig, type Rgb3,
  type SingleImageProcessorConfig,
} from './image_processor_config.js';
export { chwToHwc, preprocessImage, promptImageShape, shortestEdgeSize, type PreprocessedImage } from './preprocess.js';
export { parseStoredImageProcessor } from './stored_image_processor.js';
export { fitInside } from './anyres.js';
export { smartResize } from './qwen2_vl.js';
export { graphPixelValues, parseImageInputLayout, processedImageShape, type ImageInputLayout } from './graph_input.js';
export { graphImage, graphModeImageSize, type GraphImage } from './graph_image.js';
