/** A loaded vision-language model that answers questions about images with greedy decoding. */
import * as tf from '@tensorflow/tfjs-core';
import { GraphModel } from '@tensorflow/tfjs-converter';
import { initBackend, type ActiveBackendName, type BackendName } from '@tfjs-mbq/ops/backends';
import type { Decoder } from './decoding/decoder.js';
import { RerunDecoder } from './decoding/rerun.js';
import { withKvCache } from './decoding/kv/build.js';
import { toPixelValues, type ImageInput } from './image.js';
import { parseMbqConfig, type MbqConfig } from './mbq_config.js';
import { readGraphModel, toArtifacts, type GraphModelFiles } from './model_files.js';
import { ModelSource, splitModelLocation, type FetchLike } from './sources.js';
import { checkMbqAgainstModel, processedImageShape, type PromptBuilder, type TextTokenizer } from '@tfjs-mbq/format';
import { loadPromptBuilder } from './prompt.js';

export interface LoadVlmOptions {
  /**
   * tfjs backend to initialise: `auto` (default: tensorflow if installed, else hardware WebGPU,
   * else wasm, else cpu), `webgpu`, `wasm`, `cpu`, `tensorflow`, or `current` to keep the
   * backend the app has already set.
   */
  backend?: BackendName | 'current';
  /** fetch() to read model files over HTTP (default: the global fetch). */
  fetch?: FetchLike;
  /** Longest time one model file may take over HTTP, headers and body (default 120 s). */
  timeoutMs?: number;
  /** Aborts loading (every HTTP read of the model's files). */
  signal?: AbortSignal;
  /** Follow HTTP redirects to other origins (default false: files come from the model's origin). */
  allowCrossOrigin?: boolean;
  /**
   * Key/value caching: `true` (default) decodes each new token in one step when the graph
   * allows it (else falls back to re-running the sequence, see `Vlm.decodingNote`); `false`
   * always re-runs the whole sequence per token.
   */
  kvCache?: boolean;
}

export interface AnswerOptions {
  /** Most answer tokens to generate (default 16); decoding also stops at EOS. */
  maxNewTokens?: number;
}

export interface Generation {
  /** The answer: generated words joined by spaces, EOS and special tokens left out. */
  text: string;
  /** Generated token ids, EOS excluded. */
  tokenIds: number[];
  /** Prompt length in tokens: BOS + image tokens + question. */
  promptLength: number;
  /** True when decoding stopped at EOS (not at maxNewTokens). */
  stoppedAtEos: boolean;
}

export interface TimeDecodeOptions {
  /** Decode steps after the prefill; forced past EOS so runs are comparable. */
  steps: number;
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

export interface DecodeTiming {
  /** Prompt length in tokens: BOS + image tokens + question. */
  promptLength: number;
  /** Milliseconds from the image to the first token: preprocessing, prefill, argmax read back. */
  prefillMs: number;
  /** Milliseconds of each decode step (one new token each), in order. */
  stepMs: number[];
  /** The prefill's token, then one per step (`steps + 1` ids; EOS and anything after it included). */
  tokenIds: number[];
}

export class Vlm {
  /** @internal Use {@link loadVlm}. */
  constructor(
    readonly model: GraphModel,
    readonly config: MbqConfig,
    /** Builds the prompt ids (chat template and image tokens for Hugging Face models). */
    readonly prompter: PromptBuilder,
    /** The tfjs backend the model runs on. */
    readonly backend: ActiveBackendName,
    /** Why that backend (e.g. the WebGPU adapter, or what `auto` skipped). */
    readonly backendDetail: string,
    private readonly makeDecoder: () => Decoder,
    /** How each token is decoded: `kv-cache` (one position per step) or `re-run` (whole sequence). */
    readonly decoding: Decoder['kind'],
    /** Why `re-run` was used although a cache was asked for, or what the cache holds. */
    readonly decodingNote: string,
    /** Longest sequence (prompt + answer) the model takes, from config.json; null if not stated. */
    readonly maxSequenceLength: number | null = null,
  ) {}

  get tokenizer(): TextTokenizer {
    return this.prompter.tokenizer;
  }

  /**
   * The prompt ids of `question`: `[BOS, <image> x imageTokenCount, question tokens]` for the
   * project's word-level models, the processor's ids (chat template, image tokens) for Hugging Face ones.
   */
  promptIds(question: string): number[] {
    return this.checkedPrompt(question, 'promptIds');
  }

  /**
   * The prompt ids of `question`, checked to fit the model's positions and to put the image tokens
   * where the graph reads them (`who` names the caller in errors).
   */
  private checkedPrompt(question: string, who: string): number[] {
    this.checkLive(who);
    if (typeof question !== 'string') throw new Error(`${who}: the question must be a string, got ${typeof question}`);
    const c = this.config;
    const p = this.prompter.prompt(question, processedImageShape(c.imageInput, c.imageSize), who);
    if (p.imageTokenOffset !== c.imageTokenOffset || p.imageTokenCount !== c.imageTokenCount) {
      throw new Error(`${who}: the prompt puts ${p.imageTokenCount} image tokens at ${p.imageTokenOffset}; mbq.json says ${c.imageTokenCount} at ${c.imageTokenOffset}`);
    }
    const max = this.maxSequenceLength;
    if (max !== null && p.ids.length > max) {
      throw new Error(`${who}: the prompt has ${p.ids.length} tokens (${c.imageTokenCount} of them image tokens); the model takes at most ${max} positions`);
    }
    return p.ids;
  }

  /** Greedy decoding of the answer to `question` about `image`. */
  async generate(image: ImageInput, question: string, options: AnswerOptions = {}): Promise<Generation> {
    const pixels = this.pixelValues(image, 'answer');
    try {
      return await this.generateFromPixels(pixels, question, options);
    } finally {
      pixels.dispose();
    }
  }

  /**
   * Greedy decoding from pixel_values the caller made (`[1, H, W, 3]` float32, as the graph takes
   * them, e.g. a Hugging Face image processor's output in NHWC); the tensor stays the caller's.
   */
  async generateFromPixels(pixels: tf.Tensor4D, question: string, options: AnswerOptions = {}): Promise<Generation> {
    const maxNewTokens = options.maxNewTokens ?? 16;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new Error(`answer: maxNewTokens must be a positive integer, got ${maxNewTokens}`);
    const [h, w] = this.config.imageSize;
    if (pixels.rank !== 4 || pixels.shape[0] !== 1 || pixels.shape[1] !== h || pixels.shape[2] !== w || pixels.shape[3] !== 3) {
      throw new Error(`answer: pixel_values must be [1, ${h}, ${w}, 3], got [${pixels.shape.join(', ')}]`);
    }
    const prompt = this.checkedPrompt(question, 'answer');
    const max = this.maxSequenceLength;
    const decoder = this.makeDecoder();
    const tokenIds: number[] = [];
    let stoppedAtEos = false;
    try {
      let next = await decoder.prefill(pixels, prompt);
      for (;;) {
        if (next === this.config.eosTokenId) { stoppedAtEos = true; break; }
        tokenIds.push(next);
        if (tokenIds.length >= maxNewTokens) break;
        if (max !== null && prompt.length + tokenIds.length > max) break; // a step would run a position past the model's tables
        next = await decoder.step(next);
      }
    } finally {
      decoder.dispose();
    }
    return { text: this.tokenizer.decode(tokenIds), tokenIds, promptLength: prompt.length, stoppedAtEos };
  }

  /** The graph's pixel_values of `image`; Hugging Face models need their image processor. */
  private pixelValues(image: ImageInput, who: string): tf.Tensor4D {
    this.checkLive(who);
    if (this.config.tokenizer === 'hf') {
      // The image processor (resize, crop, normalize from mbq.json imageProcessor) is not wired in yet.
      throw new Error(`${who}: images for this Hugging Face model need its image processor, which the runtime does not run yet; pass the processor's pixel_values to generateFromPixels()`);
    }
    return toPixelValues(image, this.config.imageSize);
  }

  /**
   * Times one greedy decode for benchmarks: the prefill, then exactly `steps` cached (or re-run)
   * decode steps, each fed the previous greedy token even past EOS, so every run does the same
   * work. Each timed span ends after the next token id is read back (device work included).
   */
  async timeDecode(image: ImageInput, question: string, options: TimeDecodeOptions): Promise<DecodeTiming> {
    const steps = options.steps;
    const now = options.now ?? (() => performance.now());
    if (!Number.isInteger(steps) || steps < 0) throw new Error(`timeDecode: steps must be an integer >= 0, got ${steps}`);
    const prompt = this.checkedPrompt(question, 'timeDecode');
    const max = this.maxSequenceLength;
    if (max !== null && prompt.length + steps > max) {
      throw new Error(`timeDecode: ${prompt.length} prompt tokens + ${steps} decode steps exceed the model's ${max} positions (at most ${max - prompt.length} steps with this question)`);
    }
    const t0 = now();
    const pixels = this.pixelValues(image, 'timeDecode');
    const decoder = this.makeDecoder();
    try {
      let next = await decoder.prefill(pixels, prompt);
      const prefillMs = now() - t0;
      const tokenIds = [next];
      const stepMs: number[] = [];
      for (let k = 0; k < steps; k++) {
        const s0 = now();
        next = await decoder.step(next);
        stepMs.push(now() - s0);
        tokenIds.push(next);
      }
      return { promptLength: prompt.length, prefillMs, stepMs, tokenIds };
    } finally {
      decoder.dispose();
      pixels.dispose();
    }
  }

  /** The answer to `question` about `image` (see {@link generate}). */
  async answer(image: ImageInput, question: string, options: AnswerOptions = {}): Promise<string> {
    return (await this.generate(image, question, options)).text;
  }

  /** True once {@link dispose} ran: the weights are gone and every call refuses. */
  get disposed(): boolean {
    return this.isDisposed;
  }

  private isDisposed = false;

  private checkLive(who: string): void {
    if (this.isDisposed) throw new Error(`${who}: the model was disposed (Vlm.dispose() was called); load it again to use it`);
  }

  /** Frees the model's tensors; later calls say the model was disposed. Idempotent. */
  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    this.model.dispose();
  }
}

/** The parts of a Hugging Face config.json the runtime reads (optional file). */
interface HfConfigJson { max_position_embeddings?: unknown; text_config?: { max_position_embeddings?: unknown } }

function maxPositions(c: HfConfigJson | null): number | null {
  const v = c?.text_config?.max_position_embeddings ?? c?.max_position_embeddings;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null;
}

function findLogitsOutput(model: GraphModel, file: string): string {
  const outs = model.outputNodes;
  const named = outs.find((n) => n === 'logits' || n.split(':')[0] === 'logits');
  if (named) return named;
  if (outs.length === 1) return outs[0]!;
  throw new Error(`${file}: no 'logits' output among [${outs.join(', ')}]`);
}

/** The backends the MBQ kernels run on: what `backend: 'current'` accepts from the app. */
const ACTIVE_BACKENDS: readonly ActiveBackendName[] = ['webgpu', 'wasm', 'cpu', 'tensorflow'];

/**
 * Loads a converted (or float) VLM and initialises the backend. `location` is a directory (Node)
 * or base URL holding `model.json`, its weight shards, `mbq.json` and `tokenizer.json`, or the
 * URL/path of the `model.json` itself (the other files are read next to it).
 */
export async function loadVlm(location: string, options: LoadVlmOptions = {}): Promise<Vlm> {
  const backendName = options.backend ?? 'auto';
  let backend: ActiveBackendName;
  let backendDetail: string;
  if (backendName === 'current') {
    await tf.ready();
    const current = tf.getBackend();
    if (!(ACTIVE_BACKENDS as readonly string[]).includes(current)) {
      throw new Error(`loadVlm: backend 'current' is the app's '${current}', but the MBQ kernels run on ${ACTIVE_BACKENDS.join(', ')}: set one of those, or pass backend: 'auto'`);
    }
    backend = current as ActiveBackendName;
    backendDetail = 'set by the app';
  } else {
    const report = await initBackend(backendName);
    backend = report.backend;
    backendDetail = report.detail;
  }
  const { base, graphFile } = splitModelLocation(location);
  const source = new ModelSource(base, { fetch: options.fetch, timeoutMs: options.timeoutMs, signal: options.signal, allowCrossOrigin: options.allowCrossOrigin });
  // Read in parallel, report failures in this order (model.json first) whatever finishes first.
  const [filesRead, mbqRead, hfConfigRead] = await Promise.allSettled([
    readGraphModel(source),
    source.json<unknown>('mbq.json'),
    source.json<HfConfigJson>('config.json'),
  ]);
  for (const r of [filesRead, mbqRead, hfConfigRead]) if (r.status === 'rejected') throw r.reason;
  const files = (filesRead as PromiseFulfilledResult<GraphModelFiles>).value;
  const mbqJson = (mbqRead as PromiseFulfilledResult<unknown>).value;
  const hfConfig = (hfConfigRead as PromiseFulfilledResult<HfConfigJson>).value;
  const maxSeq = maxPositions(hfConfig);
  const config = parseMbqConfig(mbqJson, `${base}/mbq.json`);
  const prompter = await loadPromptBuilder(source, base, config, hfConfig, maxSeq ?? undefined);
  const tokenizer = prompter.tokenizer;
  // Ids, image size and token count agree with config.json and the vocabulary, or loading stops here
  // naming the file and field (not later, inside a tfjs op).
  checkMbqAgainstModel(config, `${base}/mbq.json`, hfConfig, `${base}/config.json`, tokenizer.vocabSize, config.tokenizer === 'word-level');
  const prefill = await loadGraph(files, `${base}/${graphFile}`);
  const logitsName = findLogitsOutput(prefill, `${base}/${graphFile}`);
  if (options.kvCache === false) {
    return new Vlm(prefill, config, prompter, backend, backendDetail, () => new RerunDecoder(prefill, logitsName), 're-run', 'kvCache: false', maxSeq);
  }
  const loaded = await withKvCache(prefill, files, logitsName, config, tokenizer.vocabSize);
  const model = loaded.model;
  if (loaded.kv) return new Vlm(model, config, prompter, backend, backendDetail, loaded.kv.makeDecoder, 'kv-cache', loaded.note, maxSeq);
  const note = `no KV cache for this graph, re-running the sequence per token: ${loaded.note}`;
  return new Vlm(model, config, prompter, backend, backendDetail, () => new RerunDecoder(model, logitsName), 're-run', note, maxSeq);
}

async function loadGraph(files: GraphModelFiles, where: string): Promise<GraphModel> {
  const model = new GraphModel(tf.io.fromMemory(toArtifacts(files)));
  await model.load();
  for (const input of ['pixel_values', 'input_ids']) {
    if (!model.inputNodes.includes(input)) {
      throw new Error(`${where}: the graph has no '${input}' input (inputs: ${model.inputNodes.join(', ')})`);
    }
  }
  return model;
}
