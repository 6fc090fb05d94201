/**
 * `tfjs-mbq eval` and `tfjs-mbq bench` on a model converted straight from a Hugging Face checkpoint
 * (issue 12): bench takes the checkpoint recorded in quantization.json as its float baseline,
 * importing it for the run (the report names the checkpoint, the scratch import is gone after), and
 * the baseline's forced tokens are transformers' greedy tokens for the records' image and question;
 * eval answers and scores captions of a manifest with the converted model, on both engines.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRecords } from '../../importer/test/helpers/hf_records.js';
import { CALIB, HF } from './helpers/hf_convert.js';
import { runCli } from './helpers/run_cli.js';

const hfDir = join(HF, 'llava-1.5-tiny');
let tmp: string;
let out: string;

/** stderr without Node's one-time warning about jest's VM modules (printed by whichever run comes first). */
function messages(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !/ExperimentalWarning|--trace-warnings/.test(l));
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hf-eval-bench-'));
  out = join(tmp, 'w4');
  const r = await runCli(['convert', hfDir, '--calib', CALIB, '--samples', '4', '--w-bits', '4', '--backend', 'wasm', '--out', out, '--no-progress']);
  expect(messages(r.stderr)).toEqual([]);
  expect(r.code).toBe(0);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface BenchJson {
  baselineFrom: string;
  models: Array<{ role: string; dir: string; graph: string; fusedNodes: number; tokenIds: number[]; promptLength: number; weightBytes: number }>;
  sameGraphs: boolean | null;
  baselineMade: string | null;
  ratio: { weightBytes: number } | null;
  tensors: { leaked: number };
}

test('bench: the recorded checkpoint is imported as the float baseline, fused as the model; its tokens are transformers\' greedy ones', async () => {
  const { cases } = await readRecords(hfDir);
  const c = cases[0]!;
  const before = readdirSync(tmpdir()).filter((f) => f.startsWith('tfjs-mbq-bench-')).length;
  const r = await runCli(['bench', out, '--backend', 'wasm', '--runs', '1', '--warmup', '0', '--tokens', '4', '--json', '--image', c.image, '--question', c.question]);
  expect(r.code).toBe(0);
  expect(messages(r.stderr)).toEqual([`tfjs-mbq bench: importing the float baseline from the Hugging Face checkpoint ${hfDir} (fused, as the model)`]);
  const j = JSON.parse(r.stdout) as BenchJson;
  expect(j.baselineFrom).toBe('quantization.json');
  expect(j.models.map((m) => [m.role, m.dir, m.graph])).toEqual([['model', out, 'fused'], ['baseline', hfDir, 'fused']]);
  // The same fused ops in both (the converter's pass): the graphs differ only in their linears.
  expect(j.models[1]!.fusedNodes).toBe(j.models[0]!.fusedNodes);
  expect([j.sameGraphs, j.baselineMade]).toEqual([true, 'import']);
  expect(j.models[1]!.promptLength).toBe(c.input_ids.length);
  expect(j.models[1]!.tokenIds).toEqual(c.greedy_token_ids.slice(0, 5)); // the prefill's token, then 4 decode steps
  expect(j.ratio!.weightBytes).toBeLessThan(1);
  expect(j.tensors.leaked).toBe(0);
  expect(readdirSync(tmpdir()).filter((f) => f.startsWith('tfjs-mbq-bench-')).length).toBe(before);
});

test.each(['runtime', 'executor'])('eval (%s engine): answers and caption perplexity of the converted checkpoint', async (engine) => {
  const r = await runCli(['eval', out, '--data', 'fixtures/shapes-vqa/eval', '--limit', '3', '--backend', 'wasm', '--engine', engine, '--json', '--no-progress']);
  expect(messages(r.stderr)).toEqual([]);
  expect(r.code).toBe(0);
  const j = JSON.parse(r.stdout) as { engine: string; questions: number; accuracy: number; perType: Record<string, { total: number }>; captions: number; captionTokens: number; captionPerplexity: number };
  expect(j.engine).toBe(engine);
  expect(j.questions).toBe(3);
  expect(Object.values(j.perType).reduce((a, t) => a + t.total, 0)).toBe(3);
  expect(j.accuracy >= 0 && j.accuracy <= 1).toBe(true);
  expect(j.captions).toBe(3);
  expect(j.captionTokens).toBeGreaterThan(3);
  // Random tiny weights: far from certain, but a finite perplexity of the checkpoint's own vocabulary.
  expect(Number.isFinite(j.captionPerplexity) && j.captionPerplexity > 1).toBe(true);
});
