import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { convert, type QuantizationJson } from '@tfjs-mbq/converter';
import { writeSyntheticModel } from './helpers/synthetic.js';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');

beforeAll(async () => { await initBackend('wasm'); });

test('mbq conversion records sensitivity, a search per group and losses that never get worse', async () => {
  const dir = await writeSyntheticModel({ layers: 2, seed: 11, kvHeads: 2 });
  const out = join(mkdtempSync(join(tmpdir(), 'mbq-out-')), 'q');
  const r = await convert({ modelDir: dir, calibDir: CALIB, outDir: out, samples: 6, seed: 1, gridSize: 5, distort: true });
  const q = JSON.parse(readFileSync(join(out, 'quantization.json'), 'utf8')) as QuantizationJson;
  expect(q).toEqual(r.quantization);
  // No GQA here: all four groups per block, attn-out folded into v.
  expect(q.groups.map((g) => `${g.block}:${g.group}:${g.fold}`)).toEqual([
    '0:attn-in:gamma', '0:attn-out:linear', '0:mlp-in:gamma', '0:mlp-out:linear',
    '1:attn-in:gamma', '1:attn-out:linear', '1:mlp-in:gamma', '1:mlp-out:linear',
  ]);
  expect(q.sensitivity!.blocks).toHaveLength(2);
  for (const g of q.groups) {
    const site = g.group.startsWith('attn') ? q.sensitivity!.blocks[g.block].attn : q.sensitivity!.blocks[g.block].mlp;
    expect(g.ratio).toBe(site.clamped);
    expect(g.lossCurve).toHaveLength(5);
    expect(g.lossAfter).toBeLessThanOrEqual(g.lossBefore); // alpha = 0 (s = 1) is on the grid
    expect(g.lossAfter).toBe(Math.min(...g.lossCurve));
    expect(g.scales).toHaveLength(g.group === 'mlp-out' ? 128 : 64); // K of the scaled linears
  }
  expect(q.evaluation.foldRelativeError).toBeLessThan(1e-5);
  expect(q.calibration.samples).toBe(6);
});

test('rtn uses no scales and awq no sensitivity', async () => {
  const dir = await writeSyntheticModel({ layers: 1, seed: 12 });
  const rtn = await convert({ modelDir: dir, calibDir: CALIB, outDir: join(mkdtempSync(join(tmpdir(), 'mbq-out-')), 'q'), samples: 3, method: 'rtn', wBits: 4 });
  expect(rtn.quantization.groups.every((g) => g.scales.every((s) => s === 1))).toBe(true);
  expect(rtn.quantization.sensitivity).toBeNull();
  const awq = await convert({ modelDir: dir, calibDir: CALIB, outDir: join(mkdtempSync(join(tmpdir(), 'mbq-out-')), 'q'), samples: 3, method: 'awq', gridSize: 3 });
  expect(awq.quantization.sensitivity).toBeNull();
  expect(awq.quantization.groups.every((g) => g.lossKind === 'uniform-mse')).toBe(true);
});
