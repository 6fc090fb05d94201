/** A loaded vision-language model that answers questions about images with greedy decoding. */
import * as tf from '@tensorflow/tfjs-core';
import { GraphModel } from '@tensorflow/tfjs-converter';
import { initBackend, type ActiveBackendName, type BackendName } from '@tfjs-mbq/ops/backends';
import type { Decoder } from './decoding/decoder.js';
import { RerunDecoder } from './decoding/rerun.js';
import { withKvCache } from './decoding/kv/build.js';
import type { PromptBuilder, TextTokenizer } from '@tfjs-mbq/format';
import type { ImageInput } from './image.js';
import type { MbqConfig } from './mbq_config.js';
import { readGraphModel, toArtifacts, type GraphModelFiles } from './model_files.js';
import { readModelInputs, type ModelInputs } from './model_inputs.js';
import { ModelSource, splitModelLocation, type FetchLike } from './sources.js';
import type { ModelCacheOptions } from './model_cache.js';
import { runGraph } from './decoding/run_graph.js';
import { TextStream } from './decoding/text_stream.js';
import { yieldToEventLoop } from './decoding/yield.js';

/** Options of {@link loadVlm}. */
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
  /**
   * Called as loading advances: while the weight shards are read (`stage: 'weights'`, once with 0
   * bytes, then after each shard), when the graph is built and the KV cache planned and checked
   * (`'graph'`, all bytes read), and once at the end (`'ready'`).
   */
  onProgress?: (progress: LoadProgress) => void;
  /**
   * Browser caching of a model read over HTTP: `true` (or a cache name and storage) keeps its
   * files in the Cache API (`caches`) and reads them from there on later loads, without the
   * network; {@link listCachedModels} and {@link deleteCachedModel} manage them. Default off;
   * ignored for local directories (Node). A model changed on the server is seen after deleting it.
   */
  cache?: boolean | ModelCacheOptions;
  /**
   * Refuse a model whose manifest declares more weight bytes than this, before any shard is read
   * (default 8 GiB, the format's DEFAULT_MAX_WEIGHT_BYTES). Shards stay separate buffers, so a
   * larger model (a float32 7B: 27 GB) loads once an app raises this for it.
   */
  maxWeightBytes?: number;
}

/** How far {@link loadVlm} is. */
export interface LoadProgress {
  /** `weights`: reading weight shards; `graph`: building the graph, planning the KV cache; `ready`: done. */
  stage: 'weights' | 'graph' | 'ready';
  /** Weight bytes read so far. */
  loadedBytes: number;
  /** Weight bytes of the model (the sum its model.json declares). */
  totalBytes: number;
  /** The shard just read (path or URL), during `weights`. */
  file?: string;
}

/** Options of {@link Vlm.generate} and {@link Vlm.answer}. */
export interface AnswerOptions {
  /** Most answer tokens to generate (default 16); decoding also stops at EOS. */
  maxNewTokens?: number;
  /** EOS is not chosen before this many tokens (transformers' `min_new_tokens`; default 0). */
  minNewTokens?: number;
  /**
   * Called with each generated token as soon as it is chosen (EOS is not passed): stream the
   * answer with it. An exception it throws stops generation and is thrown by the call.
   */
  onToken?: (token: GeneratedToken) => void;
  /**
   * Stops generation: checked before the prefill and before each decode step (the event loop
   * runs between steps, so an abort from a click or a worker message is seen). The call then
   * rejects with the signal's reason (an `AbortError` DOMException by default) and frees its tensors.
   */
  signal?: AbortSignal;
}

/** One streamed token (see {@link AnswerOptions.onToken}). */
export interface GeneratedToken {
  /** The token id. */
  id: number;
  /** Its position in the answer: 0 for the first generated token. */
  index: number;
  /**
   * The answer so far: every `delta` up to this one. A character whose bytes are not all generated
   * yet (byte-level or byte-fallback tokens) is held back until the token that completes it; the
   * last token of a generation stopped by `maxNewTokens` brings what is held back (as U+FFFD, as
   * {@link Generation.text} has it), so the final `text` is `Generation.text` (at EOS, an incomplete
   * character at the end is in `Generation.text` only).
   */
  text: string;
  /** What this token added to `text` (empty for a special token and while a character is incomplete). */
  delta: string;
}

/** What {@link Vlm.generate} returns. */
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

/** What {@link Vlm.score} returns. */
export interface ContinuationScore {
  /** Negative log-likelihood (natural log) of the continuation's tokens and the EOS after them, summed. */
  nll: number;
  /** Tokens scored: the continuation's, plus EOS. */
  tokens: number;
}

/** Options of {@link Vlm.timeDecode}. */
export interface TimeDecodeOptions {
  /** Decode steps after the prefill; forced past EOS so runs are comparable. */
  steps: number;
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/** What {@link Vlm.timeDecode} returns. */
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
    /** mbq.json, the prompt builder and the model's positions: how images and questions become inputs. */
    readonly inputs: ModelInputs,
    /** The graph output holding the logits `[1, S, vocab]`. */
    private readonly logitsName: string,
    /** The tfjs backend the model runs on. */
    readonly backend: ActiveBackendName,
    /** Why that backend (e.g. the WebGPU adapter, or what `auto` skipped). */
    readonly backendDetail: string,
    private readonly makeDecoder: () => Decoder,
    /** How each token is decoded: `kv-cache` (one position per step) or `re-run` (whole sequence). */
    readonly decoding: Decoder['kind'],
    /** Why `re-run` was used although a cache was asked for, or what the cache holds. */
    readonly decodingNote: string,
  ) {}

  get config(): MbqConfig {
    return this.inputs.config;
  }

  /** Builds the prompt ids (chat template and image tokens for Hugging Face models). */
  get prompter(): PromptBuilder {
    return this.inputs.prompter;
  }

  get tokenizer(): TextTokenizer {
    return this.inputs.tokenizer;
  }

  /** Longest sequence (prompt + answer) the model takes, from config.json; null if not stated. */
  get maxSequenceLength(): number | null {
    return this.inputs.maxSequenceLength;
  }

  /**
   * The prompt ids of `question` about an image at the model's size: `[BOS, <image> x
   * imageTokenCount, question tokens]` for the project's word-level models, the processor's ids
   * (chat template, image tokens) for Hugging Face ones.
   */
  promptIds(question: string): number[] {
    this.checkLive('promptIds');
    return this.inputs.prompt(question, this.inputs.graphSizedImage(), 'promptIds');
  }

  /**
   * Greedy decoding of the answer to `question` about `image`: the image goes through the model's
   * image processor (mbq.json imageProcessor), the prompt through its prompt builder.
   */
  async generate(image: ImageInput, question: string, options: AnswerOptions = {}): Promise<Generation> {
    this.checkLive('answer');
    const limits = checkTokenLimits(options);
    const img = this.inputs.image(image, 'answer');
    const prompt = this.inputs.prompt(question, img.processed, 'answer');
    const pixels = tf.tensor4d(img.pixels, img.shape);
    try {
      return await this.decode(pixels, prompt, limits);
    } finally {
      pixels.dispose();
    }
  }

  /**
   * Greedy decoding from pixel_values the caller made (`[1, H, W, 3]` float32, as the graph takes
   * them); the tensor stays the caller's.
   */
  async generateFromPixels(pixels: tf.Tensor4D, question: string, options: AnswerOptions = {}): Promise<Generation> {
    this.checkLive('answer');
    const limits = checkTokenLimits(options);
    this.checkPixels(pixels, 'answer');
    return this.decode(pixels, this.inputs.prompt(question, this.inputs.graphSizedImage(), 'answer'), limits);
  }

  private checkPixels(pixels: tf.Tensor, who: string): void {
    const [h, w] = this.config.imageSize;
    if (pixels.rank !== 4 || pixels.shape[0] !== 1 || pixels.shape[1] !== h || pixels.shape[2] !== w || pixels.shape[3] !== 3) {
      throw new Error(`${who}: pixel_values must be [1, ${h}, ${w}, 3], got [${pixels.shape.join(', ')}]`);
    }
  }

  private async decode(pixels: tf.Tensor4D, prompt: number[], limits: TokenLimits): Promise<Generation> {
    const max = this.maxSequenceLength;
    const eos = this.config.eosTokenId;
    const { signal, onToken } = limits;
    signal?.throwIfAborted();
    const decoder = this.makeDecoder();
    const tokenIds: number[] = [];
    const stream = onToken ? new TextStream(this.tokenizer) : undefined;
    let stoppedAtEos = false;
    try {
      let next = await decoder.prefill(pixels, prompt, limits.min > 0 ? eos : undefined);
      for (;;) {
        if (next === eos) { stoppedAtEos = true; break; }
        tokenIds.push(next);
        // a step would run a position past the model's tables
        const last = tokenIds.length >= limits.max || (max !== null && prompt.length + tokenIds.length > max);
        if (onToken && stream) {
          const delta = stream.push(next, last);
          onToken({ id: next, index: tokenIds.length - 1, text: stream.text, delta });
        }
        if (last) break;
        if (signal) {
          await yieldToEventLoop();
          signal.throwIfAborted();
        }
        next = await decoder.step(next, tokenIds.length < limits.min ? eos : undefined);
      }
    } finally {
      decoder.dispose();
    }
    return { text: this.tokenizer.decode(tokenIds), tokenIds, promptLength: prompt.length, stoppedAtEos };
  }

  /**
   * How likely the model finds `continuation` (then EOS) as the answer to `question` about
   * `image`: one forward pass over the whole sequence, log-softmax in float64. Evaluation scores
   * captions with it (question `''`).
   */
  async score(image: ImageInput, question: string, continuation: string): Promise<ContinuationScore> {
    this.checkLive('score');
    const img = this.inputs.image(image, 'score');
    const prompt = this.inputs.prompt(question, img.processed, 'score');
    const target = [...this.prompter.continuation(continuation, 'score'), this.config.eosTokenId];
    const ids = [...prompt, ...target];
    const max = this.maxSequenceLength;
    if (max !== null && ids.length > max) throw new Error(`score: the prompt and continuation have ${ids.length} tokens; the model takes at most ${max} positions`);
    const pixels = tf.tensor4d(img.pixels, img.shape);
    const inputIds = tf.tensor2d(ids, [1, ids.length], 'int32');
    let logits: tf.Tensor | undefined;
    try {
      [logits] = await runGraph(this.model, { pixel_values: pixels, input_ids: inputIds }, [this.logitsName]);
      const vocab = logits!.shape[2]!;
      const data = await logits!.data();
      return { nll: continuationNll(data, vocab, ids, prompt.length), tokens: target.length };
    } finally {
      logits?.dispose();
      pixels.dispose();
      inputIds.dispose();
    }
  }

  /**
   * Times one greedy decode for benchmarks: the prefill, then exactly `steps` cached (or re-run)
   * decode steps, each fed the previous greedy token even past EOS, so every run does the same
   * work. Each timed span ends after the next token id is read back (device work included); the
   * prefill's span covers preprocessing the image but not building the prompt ids.
   */
  async timeDecode(image: ImageInput, question: string, options: TimeDecodeOptions): Promise<DecodeTiming> {
    this.checkLive('timeDecode');
    const steps = options.steps;
    const now = options.now ?? (() => performance.now());
    if (!Number.isInteger(steps) || steps < 0) throw new Error(`timeDecode: steps must be an integer >= 0, got ${steps}`);
    const t0 = now();
    const img = this.inputs.image(image, 'timeDecode');
    const pixels = tf.tensor4d(img.pixels, img.shape);
    const preprocessMs = now() - t0;
    const decoder = this.makeDecoder();
    try {
      const prompt = this.inputs.prompt(question, img.processed, 'timeDecode');
      const max = this.maxSequenceLength;
      if (max !== null && prompt.length + steps > max) {
        throw new Error(`timeDecode: ${prompt.length} prompt tokens + ${steps} decode steps exceed the model's ${max} positions (at most ${max - prompt.length} steps with this question)`);
      }
      const t1 = now();
      let next = await decoder.prefill(pixels, prompt);
      const prefillMs = preprocessMs + (now() - t1);
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

interface TokenLimits { min: number; max: number; onToken?: AnswerOptions['onToken']; signal?: AbortSignal }

function checkTokenLimits(options: AnswerOptions): TokenLimits {
  if (options.onToken !== undefined && typeof options.onToken !== 'function') throw new Error(`answer: onToken must be a function, got ${typeof options.onToken}`);
  if (options.signal !== undefined && typeof (options.signal as Partial<AbortSignal> | null)?.throwIfAborted !== 'function') throw new Error('answer: signal must be an AbortSignal');
  const max = options.maxNewTokens ?? 16;
  if (!Number.isInteger(max) || max < 1) throw new Error(`answer: maxNewTokens must be a positive integer, got ${max}`);
  const min = options.minNewTokens ?? 0;
  if (!Number.isInteger(min) || min < 0 || min > max) throw new Error(`answer: minNewTokens must be an integer in 0..maxNewTokens (${max}), got ${min}`);
  return { min, max, onToken: options.onToken, signal: options.signal };
}

/** Sum over positions t >= promptLength of -log softmax(logits[t - 1])[ids[t]], in float64. */
export function continuationNll(logits: ArrayLike<number>, vocab: number, ids: readonly number[], promptLength: number): number {
  let nll = 0;
  for (let t = promptLength; t < ids.length; t++) {
    const base = (t - 1) * vocab;
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) max = Math.max(max, logits[base + v]!);
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += Math.exp(logits[base + v]! - max);
    nll += max + Math.log(sum) - logits[base + ids[t]!]!;
  }
  return nll;
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
  const cache = options.cache === true ? {} : options.cache || undefined;
  const source = new ModelSource(base, { fetch: options.fetch, timeoutMs: options.timeoutMs, signal: options.signal, allowCrossOrigin: options.allowCrossOrigin, cache });
  // Read in parallel, report failures in this order (model.json first) whatever finishes first.
  const onProgress = options.onProgress;
  let totalBytes = 0;
  const [filesRead, inputsRead] = await Promise.allSettled([
    readGraphModel(source, { maxWeightBytes: options.maxWeightBytes, onProgress: onProgress && ((p) => { totalBytes = p.totalBytes; onProgress({ stage: 'weights', ...p }); }) }),
    readModelInputs(source),
  ]);
  for (const r of [filesRead, inputsRead]) if (r.status === 'rejected') throw r.reason;
  const files = (filesRead as PromiseFulfilledResult<GraphModelFiles>).value;
  const inputs = (inputsRead as PromiseFulfilledResult<ModelInputs>).value;
  onProgress?.({ stage: 'graph', loadedBytes: totalBytes, totalBytes });
  const vlm = await buildVlm(files, inputs, `${base}/${graphFile}`, backend, backendDetail, options.kvCache !== false);
  onProgress?.({ stage: 'ready', loadedBytes: totalBytes, totalBytes });
  return vlm;
}

async function buildVlm(files: GraphModelFiles, inputs: ModelInputs, where: string, backend: ActiveBackendName, backendDetail: string, kvCache: boolean): Promise<Vlm> {
  const prefill = await loadGraph(files, where);
  const logitsName = findLogitsOutput(prefill, where);
  if (!kvCache) {
    return new Vlm(prefill, inputs, logitsName, backend, backendDetail, () => new RerunDecoder(prefill, logitsName), 're-run', 'kvCache: false');
  }
  const loaded = await withKvCache(prefill, files, logitsName, inputs.config, inputs.tokenizer.vocabSize);
  const model = loaded.model;
  if (loaded.kv) return new Vlm(model, inputs, logitsName, backend, backendDetail, loaded.kv.makeDecoder, 'kv-cache', loaded.note);
  const note = `no KV cache for this graph, re-running the sequence per token: ${loaded.note}`;
  return new Vlm(model, inputs, logitsName, backend, backendDetail, () => new RerunDecoder(model, logitsName), 're-run', note);
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
