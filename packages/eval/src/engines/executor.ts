/**
 * The executor engine: the converter's GraphExecutor on right-padded batches (a causal model
 * ignores what follows a sequence, so one pass serves a batch of different lengths), re-running the
 * batch for each new token. Fast on wasm; pixel_values and prompt ids come from the runtime's
 * ModelInputs, as `loadVlm` makes them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphExecutor, loadModelDir, type ModelJson } from '@tfjs-mbq/converter';
import { continuationNll, loadModelInputs, type ModelImage, type ModelInputs, type RgbaImage } from '@tfjs-mbq/runtime';
import type { CaptionInput, EvalEngine, QuestionInput } from './engine.js';

export class ExecutorEngine implements EvalEngine {
  readonly name = 'executor' as const;
  readonly batched = true;
  /** Preprocessed images by decoded image (evaluation asks several questions of one image). */
  private readonly images = new WeakMap<RgbaImage, ModelImage>();

  private constructor(readonly location: string, readonly inputs: ModelInputs, private readonly exec: GraphExecutor, private readonly output: string) {}

  /** Loads a model directory (weights as the converter reads them: float32, int32, bool). */
  static async load(dir: string): Promise<ExecutorEngine> {
    const [loaded, inputs] = await Promise.all([loadModelDir(dir, { checkFinite: false }), loadModelInputs(dir)]);
    const exec = new GraphExecutor(loaded.modelJson.modelTopology, loaded.weights);
    exec.checkSupported();
    return new ExecutorEngine(dir, inputs, exec, outputName(loaded.modelJson, dir));
  }

  private image(rgba: RgbaImage): ModelImage {
    let m = this.images.get(rgba);
    if (!m) {
      m = this.inputs.image(rgba, 'eval');
      this.images.set(rgba, m);
    }
    return m;
  }

  /** logits [B, S, V] of right-padded sequences over a batch of images. */
  private async logits(images: readonly ModelImage[], seqs: readonly number[][]): Promise<{ logits: Float32Array; seq: number; vocab: number }> {
    const b = seqs.length;
    const [, h, w] = images[0]!.shape;
    const n = h * w * 3;
    const pixels = new Float32Array(b * n);
    images.forEach((m, i) => pixels.set(m.pixels, i * n));
    const seq = Math.max(...seqs.map((s) => s.length));
    const c = this.inputs.config;
    const ids = new Int32Array(b * seq).fill(c.padTokenId ?? c.eosTokenId);
    seqs.forEach((s, i) => ids.set(s, i * seq));
    const out = tf.tidy(() => {
      const logits = this.exec.execute({ pixel_values: tf.tensor4d(pixels, [b, h, w, 3]), input_ids: tf.tensor2d(ids, [b, seq], 'int32') }, [this.output])[0]!;
      if (logits.rank !== 3 || logits.shape[0] !== b || logits.shape[1] !== seq) throw new Error(`${this.location}: model output has shape [${logits.shape.join(', ')}], expected [${b}, ${seq}, vocab]`);
      return logits;
    });
    const vocab = out.shape[2]!;
    const data = (await out.data()) as Float32Array;
    out.dispose();
    return { logits: data, seq, vocab };
  }

  async answer(batch: readonly QuestionInput[], maxNewTokens: number): Promise<number[][]> {
    const images = batch.map((q) => this.image(q.image));
    const seqs = batch.map((q, i) => this.inputs.prompt(q.question, images[i]!.processed, 'eval'));
    const eos = this.inputs.config.eosTokenId;
    const max = this.inputs.maxSequenceLength;
    const generated: number[][] = batch.map(() => []);
    const done = batch.map(() => false);
    for (let step = 0; step < maxNewTokens && done.some((d) => !d); step++) {
      const { logits, seq, vocab } = await this.logits(images, seqs);
      seqs.forEach((s, i) => {
        if (done[i]) return;
        const base = (i * seq + s.length - 1) * vocab;
        let best = 0;
        for (let v = 1; v < vocab; v++) if (logits[base + v]! > logits[base + best]!) best = v;
        if (best === eos) {
          done[i] = true;
          return;
        }
        generated[i]!.push(best);
        s.push(best);
        // As the runtime: no position past the model's tables.
        if (max !== null && s.length > max) done[i] = true;
      });
    }
    return generated;
  }

  async captionNll(batch: readonly CaptionInput[]): Promise<{ nll: number; tokens: number }> {
    const images = batch.map((c) => this.image(c.image));
    const eos = this.inputs.config.eosTokenId;
    const prompts = images.map((m) => this.inputs.prompt('', m.processed, 'eval'));
    const full = batch.map((c, i) => [...prompts[i]!, ...this.inputs.prompter.continuation(c.caption, 'caption'), eos]);
    const { logits, seq, vocab } = await this.logits(images, full);
    let nll = 0;
    let tokens = 0;
    full.forEach((s, i) => {
      nll += continuationNll(logits.subarray(i * seq * vocab, (i + 1) * seq * vocab), vocab, s, prompts[i]!.length);
      tokens += s.length - prompts[i]!.length;
    });
    return { nll, tokens };
  }

  dispose(): void {
    this.exec.dispose();
  }
}

/** The node named `logits`, else the only node nothing reads. */
function outputName(json: ModelJson, dir: string): string {
  const nodes = json.modelTopology.node;
  if (nodes.some((n) => n.name === 'logits')) return 'logits';
  const read = new Set(nodes.flatMap((n) => (n.input ?? []).map((i) => i.replace(/^\^/, '').replace(/:\d+$/, ''))));
  const sinks = nodes.filter((n) => !read.has(n.name) && n.op !== 'Const');
  if (sinks.length !== 1) throw new Error(`${dir}/model.json: cannot tell the output node (no 'logits'; sinks: ${sinks.map((n) => n.name).join(', ')})`);
  return sinks[0]!.name;
}
