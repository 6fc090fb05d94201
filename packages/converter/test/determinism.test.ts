/**
 * Issue 6 §4: two conversions with the same inputs and seed are byte-identical, on the code paths
 * e2e.test.ts (default MBQ W3 on wasm) does not take: weight-activation W4A8 with rotation and
 * distortion, SmoothQuant, and AWQ emitted as a float graph (the CLI only forwards options to
 * convert()). Each pair writes to different output paths, so nothing may depend on where the
 * output goes.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { convert, type ConvertOptions } from '@tfjs-mbq/converter';
import { writeSyntheticModel } from './helpers/synthetic.js';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');
let model: string;
const roots: string[] = [];

beforeAll(async () => {
  await initBackend('cpu');
  model = await writeSyntheticModel({ layers: 1, seed: 71, kvHeads: 1 });
});
afterAll(() => { for (const d of [model, ...roots]) if (d) rmSync(d, { recursive: true, force: true }); });

function freshOut(): string {
  const p = mkdtempSync(join(tmpdir(), 'mbq-det2-'));
  roots.push(p);
  return join(p, 'q');
}

function expectIdentical(a: string, b: string): void {
  const files = readdirSync(a).sort();
  expect(files).toContain('model.json');
  expect(readdirSync(b).sort()).toEqual(files);
  for (const f of files) {
    const same = readFileSync(join(a, f)).equals(readFileSync(join(b, f)));
    if (!same) throw new Error(`${f} differs between ${a} and ${b}`);
  }
}

const variants: Array<[string, Partial<ConvertOptions>]> = [
  ['mbq W4A8 with rotation and distortion', { method: 'mbq', wBits: 4, aBits: 8, rotate: true, distort: true }],
  ['smoothquant W4A8', { method: 'smoothquant', wBits: 4, aBits: 8 }],
  ['mbq W4A8 over the smoothquant scale family', { method: 'mbq', wBits: 4, aBits: 8, scaleFamily: 'smoothquant' }],
  ['awq W3 emitted as a float graph', { method: 'awq', wBits: 3, emit: 'float' }],
];

test.each(variants)('%s: byte-identical twice', async (_name, extra) => {
  const outs = [freshOut(), freshOut()];
  for (const outDir of outs) await convert({ modelDir: model, calibDir: CALIB, outDir, samples: 2, seed: 5, gridSize: 2, ...extra });
  expectIdentical(outs[0], outs[1]);
}, 120_000);
