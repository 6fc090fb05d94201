/**
 * Issue 13 §2: fixtures/llava-shapes (a LLaVA trained and saved by transformers) goes through
 * `tfjs-mbq import` then `tfjs-mbq eval` as a user's checkpoint would, and answers as PyTorch did
 * (fixtures/llava-shapes/eval_predictions.json, float16 weights computed in float32, eager). On a
 * subset (the first 12 questions: two images, every question type); the whole eval split runs with
 * the command in fixtures/llava-shapes/README.md. A question may differ only where PyTorch's own
 * top-2 logit margin was under MARGIN_TOLERANCE: float32 sums in another order move logits of
 * |x| <= ~30 by ~1e-5 relative, so below 1e-3 either answer is float noise.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { normalizeAnswer, type ReferenceComparison } from '@tfjs-mbq/eval';
import { runCli } from './helpers/run_cli.js';

const ROOT = process.cwd();
const HF_DIR = join(ROOT, 'fixtures/llava-shapes');
const REFERENCE = join(HF_DIR, 'eval_predictions.json');
const EVAL = join(ROOT, 'fixtures/shapes-vqa/eval');
const SUBSET = 12;
const MARGIN_TOLERANCE = 1e-3;

interface PyTorchAnswer { image: string; question: string; answer: string; type: string; prediction: string; margins: number[] }

const scratch = mkdtempSync(join(tmpdir(), 'mbq-llava-shapes-'));
beforeAll(async () => { await initBackend('wasm'); });
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('import then eval: the first 12 eval questions get PyTorch\'s answers', async () => {
  const model = join(scratch, 'model');
  const imp = await runCli(['import', HF_DIR, '--out', model, '--no-progress']);
  expect(imp.code).toBe(0);
  expect(imp.stdout).toMatch(/imported LlavaForConditionalGeneration: .* 64 image tokens at offset 1/);
  const r = await runCli(['eval', model, '--data', EVAL, '--engine', 'executor', '--backend', 'wasm', '--limit', String(SUBSET), '--batch', String(SUBSET), '--reference', REFERENCE, '--json', '--no-progress']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout) as { questions: number; accuracy: number; reference: ReferenceComparison };
  expect(report.questions).toBe(SUBSET);
  expect(report.reference.compared).toBe(SUBSET);
  // The reference's accuracy on these questions, recomputed here from the PyTorch file itself.
  const torch = (JSON.parse(readFileSync(REFERENCE, 'utf8')) as PyTorchAnswer[]).slice(0, SUBSET);
  const torchCorrect = torch.filter((p) => normalizeAnswer(p.prediction) === normalizeAnswer(p.answer)).length;
  expect(report.reference.referenceAccuracy).toBeCloseTo(torchCorrect / SUBSET, 12);
  for (const d of report.reference.differing) {
    process.stdout.write(`differs: ${d.image} "${d.question}": "${d.prediction}" vs PyTorch "${d.reference}" (margin ${d.referenceMargin})\n`);
    expect(d.referenceMargin).toBeLessThan(MARGIN_TOLERANCE);
  }
  expect(report.reference.same + report.reference.differing.length).toBe(SUBSET);
  // None of these 12 was close to a tie in PyTorch (smallest margin 0.016), so all must agree.
  expect(Math.min(...torch.flatMap((p) => p.margins))).toBeGreaterThan(MARGIN_TOLERANCE);
  expect(report.reference.same).toBe(SUBSET);
  expect(report.accuracy).toBeCloseTo(report.reference.referenceAccuracy, 12);
}, 600_000);

// eval's errors reach the bin's handler (one line, exit 1), as errors.test.ts checks for a missing image.
test('eval --reference (the built bin): an unreadable or malformed file exits 1 naming it, before any model is loaded', () => {
  const bin = join(ROOT, 'packages/cli/dist/bin.js');
  const run = (ref: string) => spawnSync(process.execPath, [bin, 'eval', join(scratch, 'no-model'), '--data', EVAL, '--backend', 'cpu', '--reference', ref], { encoding: 'utf8' });
  const missing = join(scratch, 'nope.json');
  const a = run(missing);
  expect(a.status).toBe(1);
  expect(a.stderr).toBe(`tfjs-mbq: ${missing}: cannot read the reference answers (file not found)\n`);
  const bad = join(scratch, 'bad.json');
  writeFileSync(bad, JSON.stringify([{ image: '0000.png', question: 'q ?', prediction: 'red' }]));
  const b = run(bad);
  expect(b.status).toBe(1);
  expect(b.stderr).toBe(`tfjs-mbq: ${bad}: entry 0 is not { image, question, prediction, margins: number[] }\n`);
});
