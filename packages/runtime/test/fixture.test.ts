/**
 * The trained fixture VLM (fixtures/tiny-vlm, float) through the runtime on wasm: on shapes-vqa
 * eval questions, KV-cache and re-run decoding give identical tokens, and the answers equal the
 * evaluation's executor engine (the converter's executor, an independent greedy decoder over
 * right-padded batches of PNGs).
 * (A W4 conversion of the fixture runs in the browser test, examples/browser/test/page.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Jimp } from 'jimp';
import { evaluate, loadEvalEngine } from '@tfjs-mbq/eval';
import { loadVlm, type Vlm } from '@tfjs-mbq/runtime';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const FIXTURE = join(root, 'fixtures/tiny-vlm');
const EVAL = join(root, 'fixtures/shapes-vqa/eval');
interface Item { image: string; question?: string; answer: string; type: string }
const items = readFileSync(join(EVAL, 'manifest.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l) as Item).filter((x) => x.question).slice(0, 12) as Array<Item & { question: string }>;

async function answers(vlm: Vlm): Promise<Array<{ ids: number[]; text: string; eos: boolean }>> {
  const out: Array<{ ids: number[]; text: string; eos: boolean }> = [];
  for (const it of items) {
    const g = await vlm.generate(await Jimp.read(join(EVAL, it.image)), it.question, { maxNewTokens: 4 });
    out.push({ ids: g.tokenIds, text: g.text, eos: g.stoppedAtEos });
  }
  return out;
}

/** Of 12 questions (colour, shape, count, position, yes/no, comparison); chance is about 4. */
const MIN_CORRECT = 5;
const correct = (a: Array<{ text: string }>): number => a.filter((x, i) => x.text === items[i]!.answer).length;

describe('fixtures/tiny-vlm through the runtime (wasm)', () => {
  it('float: KV-cache and re-run decoding give the same tokens, the evaluator\'s answers, above chance', async () => {
    const cached = await loadVlm(FIXTURE, { backend: 'wasm' });
    expect(cached.decoding).toBe('kv-cache');
    expect(cached.decodingNote).toMatch(/^16 cached tensors/); // 4 layers x 2 KV heads x (K, V)
    const plain = await loadVlm(FIXTURE, { backend: 'wasm', kvCache: false });
    const a = await answers(cached);
    expect(a.map((x) => x.ids)).toEqual((await answers(plain)).map((x) => x.ids));
    // Every answer is one or two words of the answer vocabulary, ended by EOS.
    for (const x of a) {
      expect(x.text).toMatch(/^[a-z]+( [a-z]+)?$/);
      expect(x.eos).toBe(true);
    }
    const executor = await loadEvalEngine(FIXTURE, 'executor');
    const report = await evaluate(executor, EVAL, { limit: items.length, keepPredictions: true, maxNewTokens: 4, batchSize: items.length });
    executor.dispose();
    expect(report.predictions!.map((p) => p.question)).toEqual(items.map((it) => it.question));
    expect(a.map((x) => x.text)).toEqual(report.predictions!.map((p) => p.prediction));
    expect(correct(a)).toBeGreaterThanOrEqual(MIN_CORRECT);
    cached.dispose();
    plain.dispose();
  });
});
