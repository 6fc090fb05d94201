/**
 * Evaluation of a VLM on a manifest: greedy answers scored by exact match (overall and per
 * question type) and caption perplexity, with either engine (engines/engine.ts).
 */
import { normalizeAnswer } from './answer.js';
import { ENGINE_NAMES, type EngineName, type EvalEngine } from './engines/engine.js';
import { ExecutorEngine } from './engines/executor.js';
import { RuntimeEngine } from './engines/runtime.js';
import { ImageCache } from './images.js';
import { readManifest, type CaptionItem, type QuestionItem } from './manifest.js';
import type { LoadProgress } from '@tfjs-mbq/runtime';

/** Options of {@link evaluate}. */
export interface EvalOptions {
  /** Evaluate only the first `limit` questions and captions (0 = all). */
  limit?: number;
  /** Questions or captions handed to the engine at once (the executor runs them as one batch). */
  batchSize?: number;
  /** Upper bound on generated tokens per answer (default: one more than the longest reference answer). */
  maxNewTokens?: number;
  /** Also return every prediction. */
  keepPredictions?: boolean;
  /**
   * Called after each question or caption is scored (after each batch for a batched engine):
   * `done` of `total` in the current stage, questions first, then captions.
   */
  onProgress?: (progress: EvalProgress) => void;
}

/** How far {@link evaluate} is. */
export interface EvalProgress {
  stage: 'questions' | 'captions';
  /** Questions (or captions) scored so far. */
  done: number;
  total: number;
  /** Questions answered correctly so far (stage `questions`). */
  correct: number;
}

export interface TypeScore {
  correct: number;
  total: number;
  accuracy: number;
}

export interface Prediction { image: string; question: string; answer: string; prediction: string; type: string }

export interface EvalReport {
  questions: number;
  accuracy: number;
  perType: Record<string, TypeScore>;
  captions: number;
  captionTokens: number;
  /** exp(mean NLL per caption token, EOS included); NaN without captions. */
  captionPerplexity: number;
  seconds: number;
  predictions?: Prediction[];
}

/** Options of {@link loadEvalEngine}. */
export interface LoadEngineOptions {
  /** Load progress of the `runtime` engine (weight bytes read; see loadVlm's onProgress). */
  onProgress?: (progress: LoadProgress) => void;
}

/** Loads a model for evaluation on the backend the caller set (`initBackend` first). */
export async function loadEvalEngine(location: string, engine: EngineName = 'runtime', options: LoadEngineOptions = {}): Promise<EvalEngine> {
  switch (engine) {
    case 'runtime': return RuntimeEngine.load(location, options.onProgress);
    case 'executor': return ExecutorEngine.load(location);
    default: throw new Error(`eval: unknown engine '${String(engine)}' (expected ${ENGINE_NAMES.join(' or ')})`);
  }
}

export async function evaluate(engine: EvalEngine, dataDir: string, opts: EvalOptions = {}): Promise<EvalReport> {
  const started = Date.now();
  const requested = opts.batchSize ?? 64;
  if (!Number.isInteger(requested) || requested < 1) throw new Error(`eval: the batch size must be a positive integer, got ${requested}`);
  const batchSize = engine.batched ? requested : 1;
  const items = await readManifest(dataDir);
  let questions = items.filter((i): i is QuestionItem => i.kind === 'question');
  let captions = items.filter((i): i is CaptionItem => i.kind === 'caption');
  if (opts.limit && opts.limit > 0) {
    questions = questions.slice(0, opts.limit);
    captions = captions.slice(0, opts.limit);
  }
  const prompter = engine.inputs.prompter;
  const tokenizer = engine.inputs.tokenizer;
  const cache = new ImageCache(dataDir);
  const maxNew = opts.maxNewTokens ?? 1 + Math.max(1, ...questions.map((q) => prompter.continuation(q.answer, 'answer').length));
  const perType: Record<string, TypeScore> = {};
  const predictions: Prediction[] = [];
  let correct = 0;
  for (let i = 0; i < questions.length; i += batchSize) {
    const batch = questions.slice(i, i + batchSize);
    const inputs = [];
    for (const q of batch) inputs.push({ image: await cache.get(q.image), question: q.question });
    const answers = (await engine.answer(inputs, maxNew)).map((ids) => tokenizer.decode(ids));
    batch.forEach((q, j) => {
      const ok = normalizeAnswer(answers[j]!) === normalizeAnswer(q.answer);
      const s = (perType[q.type] ??= { correct: 0, total: 0, accuracy: 0 });
      s.total++;
      if (ok) {
        s.correct++;
        correct++;
      }
      if (opts.keepPredictions) predictions.push({ image: q.image, question: q.question, answer: q.answer, prediction: answers[j]!, type: q.type });
    });
    opts.onProgress?.({ stage: 'questions', done: i + batch.length, total: questions.length, correct });
  }
  for (const s of Object.values(perType)) s.accuracy = s.correct / s.total;
  let nll = 0;
  let captionTokens = 0;
  for (let i = 0; i < captions.length; i += batchSize) {
    const inputs = [];
    for (const c of captions.slice(i, i + batchSize)) inputs.push({ image: await cache.get(c.image), caption: c.caption });
    const r = await engine.captionNll(inputs);
    nll += r.nll;
    captionTokens += r.tokens;
    opts.onProgress?.({ stage: 'captions', done: i + inputs.length, total: captions.length, correct });
  }
  const report: EvalReport = {
    questions: questions.length,
    accuracy: questions.length ? correct / questions.length : NaN,
    perType,
    captions: captions.length,
    captionTokens,
    captionPerplexity: captionTokens ? Math.exp(nll / captionTokens) : NaN,
    seconds: (Date.now() - started) / 1000,
  };
  if (opts.keepPredictions) report.predictions = predictions;
  return report;
}

/** A fixed-width text table of a report. */
export function formatEvalReport(r: EvalReport): string {
  const lines = [`accuracy ${(100 * r.accuracy).toFixed(2)}% (${r.questions} questions)`];
  for (const [type, s] of Object.entries(r.perType).sort()) lines.push(`  ${type.padEnd(12)} ${(100 * s.accuracy).toFixed(2).padStart(6)}%  (${s.correct}/${s.total})`);
  lines.push(`caption perplexity ${r.captionPerplexity.toFixed(4)} (${r.captions} captions, ${r.captionTokens} tokens)`);
  lines.push(`${r.seconds.toFixed(1)} s`);
  return lines.join('\n');
}
