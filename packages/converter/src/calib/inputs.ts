/**
 * How a calibration sample becomes model inputs, read from the model directory: the prompt builder
 * (the format's PromptBuilder, the one the runtime answers with: `[BOS, <image> x N, question]` for
 * the project's word-level models, the chat template and the processor's image tokens for a Hugging
 * Face import), and the image processor + pixel_values layout of mbq.json.
 */
import {
  FixedImagePrompt, hfPromptFromFiles, InputTooLongError, modelMaxPositions, parseImageInputLayout, parseStoredImageProcessor, PromptTooLongError,
  tinyVlmImageProcessor, UnknownWordError, WordLevelTokenizer,
  type ImageInputLayout, type ImageProcessorConfig, type MbqJson, type PromptBuilder,
} from '@tfjs-mbq/format';
import { ConversionError, fromFormatError } from '../io/errors.js';
import type { LoadedModel } from '../io/load.js';

export interface CalibInputs {
  /** Prompt ids of a question (or of no text, for a caption) about an image; ids of the answer or caption. */
  prompter: PromptBuilder;
  mbq: MbqJson;
  /** How an image becomes the processor's output (mbq.json `imageProcessor`; the fixture's resize and 1/255 when absent). */
  imageProcessor: ImageProcessorConfig;
  /** How that output becomes the graph's pixel_values (mbq.json `imageInput`). */
  imageInput: ImageInputLayout;
  /** Longest sequence the model accepts (config.json max_position_embeddings, or mbq.json maxPositions when fewer); longer samples are refused. */
  maxSeq?: number;
}

/** Calibration inputs of a word-level model (the project's own `tokenizer.json`): a word outside the vocabulary is a data error. */
export function wordLevelCalibInputs(tokenizerJson: unknown, tokenizerFile: string, mbq: MbqJson, maxSeq?: number): CalibInputs {
  let tokenizer: WordLevelTokenizer;
  try {
    tokenizer = new WordLevelTokenizer(tokenizerJson, tokenizerFile, { unknownWords: 'error' });
  } catch (e) {
    throw new ConversionError('TOKENIZER', (e as Error).message, tokenizerFile);
  }
  return { prompter: new FixedImagePrompt(tokenizer, mbq), mbq, imageProcessor: tinyVlmImageProcessor([...mbq.imageSize]), imageInput: { kind: 'image' }, maxSeq };
}

/** The calibration inputs of a loaded model directory, by mbq.json's tokenizer kind. */
export function calibInputs(model: LoadedModel): CalibInputs {
  // config.json's positions, or fewer where the graph's tables cover fewer (mbq.json maxPositions).
  const maxSeq = modelMaxPositions(model.mbq, model.config);
  const mbqFile = model.where('mbq.json');
  if (model.mbq.tokenizer !== 'hf') {
    if (model.mbq.imageTokenOffset !== 1) {
      throw new ConversionError('MBQ_JSON', `${mbqFile}: imageTokenOffset ${model.mbq.imageTokenOffset} is not supported (the converter lays out [BOS, <image>...], offset 1)`, mbqFile);
    }
    return wordLevelCalibInputs(model.tokenizer, model.where('tokenizer.json'), model.mbq, maxSeq);
  }
  if (!model.hf) throw new ConversionError('TOKENIZER', `${mbqFile}: "tokenizer" is "hf" but the model was loaded without its Hugging Face files`, mbqFile);
  let imageProcessor: ImageProcessorConfig;
  let imageInput: ImageInputLayout;
  try {
    if (model.mbq.imageProcessor === undefined) throw new ConversionError('MBQ_JSON', `${mbqFile}: a Hugging Face model needs "imageProcessor" (how its images are preprocessed); import the checkpoint again`, mbqFile);
    imageProcessor = parseStoredImageProcessor(model.mbq.imageProcessor, `${mbqFile}: "imageProcessor"`, mbqFile);
    imageInput = parseImageInputLayout(model.mbq.imageInput, model.mbq.imageSize, mbqFile);
  } catch (e) {
    throw fromFormatError(e);
  }
  let prompter: PromptBuilder;
  try {
    prompter = hfPromptFromFiles(model.hf, { location: model.location, maxPromptTokens: maxSeq });
  } catch (e) {
    throw new ConversionError('TOKENIZER', (e as Error).message, model.where('tokenizer_config.json'));
  }
  return { prompter, mbq: model.mbq, imageProcessor, imageInput, maxSeq };
}

/**
 * Runs a prompt-builder call for the text at `where` (a manifest line); its failures become
 * ConversionErrors: a word outside a word-level vocabulary CALIB_TOKEN, text or a prompt too long
 * or otherwise refused CALIB_MANIFEST (naming `manifest`), a template that cannot render TOKENIZER.
 */
export function promptCall<T>(call: () => T, where: string, manifest: string): T {
  try {
    return call();
  } catch (e) {
    if (e instanceof ConversionError) throw e;
    if (e instanceof UnknownWordError) throw new ConversionError('CALIB_TOKEN', e.message, where);
    if (e instanceof InputTooLongError || e instanceof PromptTooLongError) throw new ConversionError('CALIB_MANIFEST', e.message, manifest);
    const message = (e as Error).message;
    throw message.startsWith(where) ? new ConversionError('CALIB_MANIFEST', message, manifest) : new ConversionError('TOKENIZER', message);
  }
}
