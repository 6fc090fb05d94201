export {
  UnknownWordError, InputTooLongError, DEFAULT_MAX_INPUT_CHARS,
  type UnknownWordPolicy, type TokenizerOptions, type TokenizerKind, type EncodeOptions, type TextTokenizer,
} from './front.js';
export { WordLevelTokenizer } from './word_level.js';
export { FixedImagePrompt, PromptTooLongError, type PromptBuilder, type PromptIds, type FixedImageLayout } from './prompt.js';
