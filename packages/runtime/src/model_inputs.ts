/**
 * How a model's inputs are made, read from its directory: mbq.json (image tokens, special ids,
 * image processor), the prompt builder (tokenizer, chat template, image-token rule) and the
 * positions config.json allows. `Vlm` answers through it, and so does evaluation with any engine,
 * so both build the same pixel_values and prompt ids.
 */
import { checkMbqAgainstModel, modelMaxPositions, processedImageShape, type ProcessedImageShape, type PromptBuilder, type TextTokenizer } from '@tfjs-mbq/format';
import type { ImageInput } from './image.js';
import { parseMbqConfig, type MbqConfig } from './mbq_config.js';
import { modelImage, type ModelImage } from './model_image.js';
import { loadPromptBuilder } from './prompt.js';
import { ModelSource, type SourceOptions } from './sources.js';

export class ModelInputs {
  constructor(
    readonly config: MbqConfig,
    /** Builds the prompt ids (chat template and image tokens for Hugging Face models). */
    readonly prompter: PromptBuilder,
    /** Longest sequence (prompt + answer) the model takes, from config.json; null if not stated. */
    readonly maxSequenceLength: number | null,
  ) {}

  get tokenizer(): TextTokenizer {
    return this.prompter.tokenizer;
  }

  /** pixel_values of `image` through the model's image processor, and what the prompt needs of it. */
  image(image: ImageInput, who: string): ModelImage {
    return modelImage(image, this.config.imageProcessor, this.config.imageInput, this.config.imageSize, who);
  }

  /** What the prompt reads of an image processed into the graph's layout (pixel_values the caller made). */
  graphSizedImage(): ProcessedImageShape {
    return processedImageShape(this.config.imageInput, this.config.imageSize);
  }

  /**
   * The prompt ids of `question` about an image processed to `image`, checked to fit the model's
   * positions and to put the image tokens where the graph reads them (`who` names the caller in errors).
   */
  prompt(question: string, image: ProcessedImageShape, who: string): number[] {
    if (typeof question !== 'string') throw new Error(`${who}: the question must be a string, got ${typeof question}`);
    const c = this.config;
    const p = this.prompter.prompt(question, image, who);
    if (p.imageTokenOffset !== c.imageTokenOffset || p.imageTokenCount !== c.imageTokenCount) {
      throw new Error(`${who}: the prompt puts ${p.imageTokenCount} image tokens at ${p.imageTokenOffset}; mbq.json says ${c.imageTokenCount} at ${c.imageTokenOffset}`);
    }
    const max = this.maxSequenceLength;
    if (max !== null && p.ids.length > max) {
      throw new Error(`${who}: the prompt has ${p.ids.length} tokens (${c.imageTokenCount} of them image tokens); the model takes at most ${max} positions`);
    }
    return p.ids;
  }
}

/** The parts of a Hugging Face config.json the runtime reads. */
export interface HfConfigJson { max_position_embeddings?: unknown; text_config?: { max_position_embeddings?: unknown } }

/** Reads and cross-checks mbq.json, config.json and the tokenizer files of the model at `source`. */
export async function readModelInputs(source: ModelSource): Promise<ModelInputs> {
  const location = source.location;
  // Read in parallel, report failures in this order whatever finishes first.
  const [mbqRead, hfConfigRead] = await Promise.allSettled([source.json<unknown>('mbq.json'), source.json<HfConfigJson>('config.json')]);
  for (const r of [mbqRead, hfConfigRead]) if (r.status === 'rejected') throw r.reason;
  const mbqJson = (mbqRead as PromiseFulfilledResult<unknown>).value;
  const hfConfig = (hfConfigRead as PromiseFulfilledResult<HfConfigJson>).value;
  const config = parseMbqConfig(mbqJson, `${location}/mbq.json`);
  // config.json's positions, or fewer where the graph's tables cover fewer (mbq.json maxPositions).
  const maxSeq = modelMaxPositions(config, hfConfig) ?? null;
  const prompter = await loadPromptBuilder(source, location, config, hfConfig, maxSeq ?? undefined);
  // Ids, image size and token count agree with config.json and the vocabulary, or loading stops here
  // naming the file and field (not later, inside a tfjs op).
  checkMbqAgainstModel(config, `${location}/mbq.json`, hfConfig, `${location}/config.json`, prompter.tokenizer.vocabSize, config.tokenizer === 'word-level');
  return new ModelInputs(config, prompter, maxSeq);
}

/** {@link readModelInputs} of a directory (Node) or base URL, without loading the graph. */
export function loadModelInputs(location: string, options: SourceOptions = {}): Promise<ModelInputs> {
  return readModelInputs(new ModelSource(location, options));
}
