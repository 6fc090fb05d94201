import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { convert } from '@tfjs-mbq/converter';
import { writeSyntheticModel } from './helpers/synthetic.js';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');

beforeAll(async () => { await initBackend('cpu'); });

test('mbq conversion of a synthetic model', async () => {
  const dir = await writeSyntheticModel({ layers: 2, seed: 11 });
  const out = join(mkdtempSync(join(tmpdir(), 'mbq-out-')), 'q');
  const t0 = Date.now();
  const r = await convert({ modelDir: dir, calibDir: CALIB, outDir: out, samples: 8, seed: 1, gridSize: 5 });
  console.log(Date.now() - t0, r.timings, JSON.stringify(r.quantization.evaluation), JSON.stringify(r.quantization.sensitivity?.blocks));
  expect(existsSync(join(out, 'model.json'))).toBe(true);
  const q = JSON.parse(readFileSync(join(out, 'quantization.json'), 'utf8'));
  expect(q.groups.length).toBe(8);
});
