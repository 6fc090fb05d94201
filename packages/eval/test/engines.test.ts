/**
 * Evaluation through both engines: the runtime's loadVlm (KV cache, one question at a time) and the
 * converter's batched executor give the same answers and caption perplexity on the fixture (first
 * 40 questions and captions, wasm), and on an imported Hugging Face checkpoint, whose prompts go
 * through the chat template and image processor, transformers' greedy answers.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { importCheckpoint } from '@tfjs-mbq/importer';
import { loadModelInputs } from '@tfjs-mbq/runtime';
import { evaluate, loadEvalEngine, normalizeAnswer, readManifest, type EngineName, type EvalReport } from '@tfjs-mbq/eval';

async function run(model: string, data: string, engine: EngineName, opts: Parameters<typeof evaluate>[2]): Promise<EvalReport> {
  const e = await loadEvalEngine(model, engine);
  try {
    expect(e.name).toBe(engine);
    return await evaluate(e, data, { keepPredictions: true, ...opts });
  } finally {
    e.dispose();
  }
}

describe('evaluation engines', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('fixture: runtime and executor give the same 40 answers and caption perplexity', async () => {
    const opts = { limit: 40, batchSize: 40 };
    const a = await run('fixtures/tiny-vlm', 'fixtures/shapes-vqa/eval', 'runtime', opts);
    const b = await run('fixtures/tiny-vlm', 'fixtures/shapes-vqa/eval', 'executor', opts);
    expect(a.questions).toBe(40);
    expect(a.captions).toBe(40);
    expect(a.predictions!.map((p) => p.prediction)).toEqual(b.predictions!.map((p) => p.prediction));
    expect(a.accuracy).toBe(b.accuracy);
    expect(a.perType).toEqual(b.perType);
    expect(a.captionTokens).toBe(b.captionTokens);
    expect(Math.abs(a.captionPerplexity - b.captionPerplexity) / a.captionPerplexity).toBeLessThan(1e-4);
    // Accuracy is recomputed from the predictions: exact match after normalisation.
    const correct = a.predictions!.filter((p) => normalizeAnswer(p.prediction) === normalizeAnswer(p.answer)).length;
    expect(a.accuracy).toBeCloseTo(correct / 40, 10);
    expect(a.accuracy).toBeGreaterThanOrEqual(0.9); // the float fixture scores ~96% (docs/results.md)
    expect(a.captionPerplexity).toBeGreaterThan(1);
  });

  it('an imported LLaVA checkpoint: both engines answer with transformers\' greedy tokens', async () => {
    const hfDir = 'fixtures/hf/llava-1.5-tiny';
    const tmp = await mkdtemp(join(tmpdir(), 'eval-hf-'));
    try {
      const model = join(tmp, 'model');
      await importCheckpoint({ hfDir, outDir: model });
      const records = JSON.parse(await readFile(join(hfDir, 'records', 'records.json'), 'utf8')) as {
        cases: Array<{ image: string; question: string; greedy_token_ids: number[] }>;
      };
      const data = join(tmp, 'data');
      await mkdir(data);
      const tokenizer = (await loadModelInputs(model)).tokenizer;
      // Reference answers: transformers' 16 greedy tokens (no EOS among them for this checkpoint), as text.
      const lines = [];
      for (const c of records.cases) {
        await copyFile(c.image, join(data, basename(c.image)));
        lines.push(JSON.stringify({ image: basename(c.image), question: c.question, answer: tokenizer.decode(c.greedy_token_ids), type: 'recorded' }));
      }
      lines.push(JSON.stringify({ image: basename(records.cases[0]!.image), caption: 'a red circle' }));
      await writeFile(join(data, 'manifest.jsonl'), lines.join('\n') + '\n');
      const opts = { maxNewTokens: 16, batchSize: 3 };
      const a = await run(model, data, 'runtime', opts);
      const b = await run(model, data, 'executor', opts);
      expect(a.questions).toBe(3);
      expect(a.accuracy).toBe(1);
      expect(b.predictions!.map((p) => p.prediction)).toEqual(a.predictions!.map((p) => p.prediction));
      expect(a.captions).toBe(1);
      expect(Number.isFinite(a.captionPerplexity)).toBe(true);
      expect(Math.abs(a.captionPerplexity - b.captionPerplexity) / a.captionPerplexity).toBeLessThan(1e-4);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('names the file and line of a bad manifest entry, and a missing image', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bad-manifest-'));
    try {
      await copyFile('fixtures/shapes-vqa/eval/0000.png', join(dir, '0000.png'));
      await writeFile(join(dir, 'manifest.jsonl'), '{"image":"0000.png","question":"what color is the circle ?","answer":"red","type":"color"}\n{"image":"0000.png","question":"no answer"}\n');
      await expect(readManifest(dir)).rejects.toThrow(/manifest\.jsonl:2: expected "question" and "answer" strings, or a "caption" string/);
      await writeFile(join(dir, 'manifest.jsonl'), '{"image":"missing.png","caption":"a red circle ."}\n');
      for (const engine of ['runtime', 'executor'] as const) {
        const e = await loadEvalEngine('fixtures/tiny-vlm', engine);
        await expect(evaluate(e, dir)).rejects.toThrow(/missing\.png/);
        e.dispose();
      }
      await expect(loadEvalEngine('fixtures/tiny-vlm', 'graph' as EngineName)).rejects.toThrow("eval: unknown engine 'graph' (expected runtime or executor)");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
