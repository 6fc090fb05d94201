/**
 * Evaluation of a VLM graph model on a manifest: greedy decoding with exact-match accuracy
 * (overall and per question type) and caption perplexity. Sequences are right-padded, which a
 * causal model ignores, so one forward pass serves a whole batch of different lengths.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadImagePixels } from './images.js';
import { CaptionItem, QuestionItem, readManifest } from './manifest.js';
import { VlmModel } from './model_dir.js';
import { normalizeAnswer } from './tokenizer.js';

export interface EvalOptions {
  /** Evaluate only the first `limit` questions and captions (0 = all). */
  limit?: number;
  batchSize?: number;
  /** Upper bound on generated tokens per answer. */
  maxNewTokens?: number;
  /** Also return every prediction. */
  keepPredictions?: boolean;
}

export interface TypeScore {
  correct: number;
  total: number;
  accuracy: number;
}

export interface EvalReport {
  questions: number;
  accuracy: number;
  perType: Record<string, TypeScore>;
  captions: number;
  captionTokens: number;
  /** exp(mean NLL per caption token, EOS included); NaN without captions. */
  captionPerplexity: number;
  seconds: number;
  predictions?: Array<{ image: string; question: string; answer: string; prediction: string; type: string }>;
}

class PixelCache {
  private readonly cache = new Map<string, Float32Array>();
  constructor(private readonly dataDir: string, private readonly size: [number, number]) {}
  async get(file: string): Promise<Float32Array> {
    let px = this.cache.get(file);
    if (!px) {
      px = await loadImagePixels(this.dataDir, file, this.size);
      this.cache.set(file, px);
    }
    return px;
  }
}

function promptIds(vlm: VlmModel, text: string): number[] {
  const l = vlm.layout;
  const ids = new Array<number>(l.imageTokenOffset + l.imageTokenCount).fill(l.imageTokenId);
  ids[0] = l.bosTokenId;
  return [...ids, ...vlm.tokenizer.encode(text)];
}

/** logits [B, S, V] for right-padded sequences. */
async function runLogits(vlm: VlmModel, pixels: Float32Array, seqs: number[][]): Promise<{ logits: Float32Array; seq: number; vocab: number }> {
  const [h, w] = vlm.layout.imageSize;
  const b = seqs.length;
  const seq = Math.max(...seqs.map((s) => s.length));
  const pad = vlm.layout.padTokenId ?? vlm.layout.eosTokenId;
  const ids = new Int32Array(b * seq).fill(pad);
  seqs.forEach((s, i) => ids.set(s, i * seq));
  const out = tf.tidy(() => {
    const logits = vlm.run(tf.tensor4d(pixels, [b, h, w, 3]), tf.tensor2d(ids, [b, seq], 'int32'));
    if (logits.rank !== 3 || logits.shape[0] !== b || logits.shape[1] !== seq) throw new Error(`${vlm.dir}: model output has shape [${logits.shape.join(', ')}], expected [${b}, ${seq}, vocab]`);
    return logits;
  });
  const vocab = out.shape[2]!;
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return { logits: data, seq, vocab };
}

async function batchPixels(cache: PixelCache, images: string[], size: [number, number]): Promise<Float32Array> {
  const n = size[0] * size[1] * 3;
  const out = new Float32Array(images.length * n);
  for (let i = 0; i < images.length; i++) out.set(await cache.get(images[i]!), i * n);
  return out;
}

async function answerBatch(vlm: VlmModel, cache: PixelCache, items: QuestionItem[], maxNew: number): Promise<string[]> {
  const pixels = await batchPixels(cache, items.map((q) => q.image), vlm.layout.imageSize);
  const seqs = items.map((q) => promptIds(vlm, q.question));
  const generated: number[][] = items.map(() => []);
  const done = items.map(() => false);
  for (let step = 0; step < maxNew && done.some((d) => !d); step++) {
    const { logits, seq, vocab } = await runLogits(vlm, pixels, seqs);
    seqs.forEach((s, i) => {
      if (done[i]) return;
      const base = (i * seq + s.length - 1) * vocab;
      let best = 0;
      for (let v = 1; v < vocab; v++) if (logits[base + v]! > logits[base + best]!) best = v;
      if (best === vlm.layout.eosTokenId) done[i] = true;
      else {
        generated[i]!.push(best);
        s.push(best);
      }
    });
  }
  return generated.map((g) => vlm.tokenizer.decode(g));
}

async function captionNll(vlm: VlmModel, cache: PixelCache, items: CaptionItem[]): Promise<{ nll: number; tokens: number }> {
  const pixels = await batchPixels(cache, items.map((c) => c.image), vlm.layout.imageSize);
  const seqs = items.map((c) => promptIds(vlm, ''));
  const targets = items.map((c) => [...vlm.tokenizer.encode(c.caption), vlm.layout.eosTokenId]);
  const full = seqs.map((s, i) => [...s, ...targets[i]!]);
  const { logits, seq, vocab } = await runLogits(vlm, pixels, full);
  let nll = 0;
  let tokens = 0;
  full.forEach((s, i) => {
    const start = seqs[i]!.length - 1;
    for (let t = start; t < s.length - 1; t++) {
      const base = (i * seq + t) * vocab;
      let max = -Infinity;
      for (let v = 0; v < vocab; v++) max = Math.max(max, logits[base + v]!);
      let sum = 0;
      for (let v = 0; v < vocab; v++) sum += Math.exp(logits[base + v]! - max);
      nll += max + Math.log(sum) - logits[base + s[t + 1]!]!;
      tokens++;
    }
  });
  return { nll, tokens };
}

export async function evaluateVlm(vlm: VlmModel, dataDir: string, opts: EvalOptions = {}): Promise<EvalReport> {
  const started = Date.now();
  const batchSize = opts.batchSize ?? 64;
  const items = await readManifest(dataDir);
  let questions = items.filter((i): i is QuestionItem => i.kind === 'question');
  let captions = items.filter((i): i is CaptionItem => i.kind === 'caption');
  if (opts.limit && opts.limit > 0) {
    questions = questions.slice(0, opts.limit);
    captions = captions.slice(0, opts.limit);
  }
  const cache = new PixelCache(dataDir, vlm.layout.imageSize);
  const maxNew = opts.maxNewTokens ?? 1 + Math.max(1, ...questions.map((q) => vlm.tokenizer.encode(q.answer).length));
  const perType: Record<string, TypeScore> = {};
  const predictions: NonNullable<EvalReport['predictions']> = [];
  let correct = 0;
  for (let i = 0; i < questions.length; i += batchSize) {
    const batch = questions.slice(i, i + batchSize);
    const answers = await answerBatch(vlm, cache, batch, maxNew);
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
  }
  for (const s of Object.values(perType)) s.accuracy = s.correct / s.total;
  let nll = 0;
  let captionTokens = 0;
  for (let i = 0; i < captions.length; i += batchSize) {
    const r = await captionNll(vlm, cache, captions.slice(i, i + batchSize));
    nll += r.nll;
    captionTokens += r.tokens;
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
