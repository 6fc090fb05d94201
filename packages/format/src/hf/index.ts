export { HfTokenizer, type SpecialTokens } from './tokenizer.js';
export { ChatTemplate, resolveChatTemplate, imageQuestion, type ChatMessage, type ChatContent, type ChatTemplateSources } from './chat_template.js';
export {
  imageTokenCount, expandImageTokens, selectBestResolution,
  type ImageTokenRule, type LlavaImageTokens, type LlavaOnevisionImageTokens, type Qwen2VlImageTokens, type ProcessedImageShape, type FeatureSelectStrategy,
} from './image_tokens.js';
export { imageTokenRuleFromHf, imageProcessorConfig, SUPPORTED_MODEL_TYPES, type ProcessorFiles } from './processor_config.js';
export { HfPrompt, hfPromptFromFiles, type HfPromptOptions, type HfTextFiles } from './prompt.js';
