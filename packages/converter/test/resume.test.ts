/**
 * Issue 12 §4: a conversion with a work directory saves the sensitivity and each block's search
 * results as they finish; interrupted after one block and started again with the same inputs, it
 * searches only the remaining blocks and writes output byte-identical to an uninterrupted run.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { convert, ConversionError, type ConvertOptions } from '@tfjs-mbq/converter';

const FIXTURE = join(process.cwd(), 'fixtures/tiny-vlm');
const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');
const root = mkdtempSync(join(tmpdir(), 'mbq-resume-'));
const base = (name: string): ConvertOptions => ({ modelDir: FIXTURE, calibDir: CALIB, outDir: join(root, name), samples: 2, seed: 1, gridSize: 4 });

beforeAll(async () => { await initBackend('cpu'); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

function expectIdentical(a: string, b: string): void {
  const files = readdirSync(a).sort();
  expect(files).toContain('model.json');
  expect(files).toContain('quantization.json');
  expect(readdirSync(b).sort()).toEqual(files);
  for (const f of files) {
    if (!readFileSync(join(a, f)).equals(readFileSync(join(b, f)))) throw new Error(`${f} differs between ${a} and ${b}`);
  }
}

test('interrupted after block 0 and resumed: only blocks 1.. are searched, output byte-identical', async () => {
  await convert(base('uninterrupted'));

  const work = join(root, 'work');
  let stopped = false;
  await expect(convert({
    ...base('resumed'), workDir: work,
    onProgress: (e) => {
      if (e.stage === 'search' && e.detail?.startsWith('block 1 ')) { stopped = true; throw new Error('interrupted'); }
    },
  })).rejects.toThrow('interrupted');
  expect(stopped).toBe(true);
  expect(existsSync(join(root, 'resumed'))).toBe(false);
  expect(readdirSync(work).sort()).toEqual(['block-0000.json', 'inputs.json', 'sensitivity.json']);
  const saved = JSON.parse(readFileSync(join(work, 'block-0000.json'), 'utf8')) as Array<{ block: number; group: string; scales: number[] }>;
  expect(saved.map((r) => [r.block, r.group])).toEqual([[0, 'attn-in'], [0, 'mlp-in'], [0, 'mlp-out']]);

  const details: string[] = [];
  let sensitivityFromWork = false;
  await convert({
    ...base('resumed'), workDir: work,
    onProgress: (e) => {
      if (e.stage === 'search' && e.detail) details.push(e.detail);
      if (e.stage === 'sensitivity' && e.detail === 'from the work directory') sensitivityFromWork = true;
    },
  });
  expect(sensitivityFromWork).toBe(true);
  expect(details.filter((d) => d.endsWith('(from the work directory)'))).toEqual([
    'block 0 attn-in (from the work directory)', 'block 0 mlp-in (from the work directory)', 'block 0 mlp-out (from the work directory)',
  ]);
  expect(details.filter((d) => d.startsWith('block 3 ') && !d.endsWith('(from the work directory)'))).toHaveLength(3);
  expect(readdirSync(work).filter((n) => n.startsWith('block-')).sort()).toEqual(['block-0000.json', 'block-0001.json', 'block-0002.json', 'block-0003.json']);
  expectIdentical(join(root, 'uninterrupted'), join(root, 'resumed'));

  // Other inputs are refused, naming the work directory file and the first difference; nothing is written.
  const refused = convert({ ...base('other-bits'), wBits: 4, workDir: work });
  await expect(refused).rejects.toBeInstanceOf(ConversionError);
  await expect(refused).rejects.toThrow(/^--work-dir .*\/work: it holds results of a conversion with other inputs \(options\.wBits: 3 vs 4\)/);
  // Another seed picks other calibration samples.
  await expect(convert({ ...base('other-seed'), seed: 2, workDir: work })).rejects.toThrow(/other inputs \(calibrationSha256: /);
  expect(existsSync(join(root, 'other-bits'))).toBe(false);
  // A work directory inside the output is refused before anything runs.
  await expect(convert({ ...base('inside'), workDir: join(root, 'inside', 'work') })).rejects.toThrow(/--work-dir .* is inside the output directory/);
}, 900_000);
