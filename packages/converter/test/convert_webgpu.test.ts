/**
 * Issue 12 §3: the whole conversion (sensitivity with tf.grad, search, quantize, evaluate, emit),
 * convert() after initBackend(backend) as `tfjs-mbq convert --backend` does,
 * runs on the webgpu backend (lavapipe in CI, never skipped) and gives the cpu conversion's
 * result: the same alpha for every group, scales equal within float rounding, and emitted models
 * that answer the same questions the same way.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { convert, type QuantizationJson } from '@tfjs-mbq/converter';
import { evaluate, loadEvalEngine } from '@tfjs-mbq/eval';

const FIXTURE = join(process.cwd(), 'fixtures/tiny-vlm');
const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');
const EVAL = join(process.cwd(), 'fixtures/shapes-vqa/eval');
const root = mkdtempSync(join(tmpdir(), 'mbq-webgpu-convert-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * Scales are products of device reductions (mean |X|, losses of earlier blocks' folded weights),
 * so webgpu and cpu differ in the last float32 bits; 1e-5 relative is ~100 ulps.
 */
const SCALE_RTOL = 1e-5;

/** `tfjs-mbq convert --backend <backend> --samples 2` with a 10-point alpha grid (CI time). */
async function convertOn(backend: 'cpu' | 'webgpu'): Promise<{ dir: string; q: QuantizationJson }> {
  await initBackend(backend);
  const dir = join(root, backend);
  const t0 = Date.now();
  await convert({ modelDir: FIXTURE, calibDir: CALIB, outDir: dir, samples: 2, gridSize: 10 });
  console.log(`convert on ${backend}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { dir, q: JSON.parse(readFileSync(join(dir, 'quantization.json'), 'utf8')) as QuantizationJson };
}

test('MBQ W3 on webgpu: same alphas, scales within float rounding, same answers as on cpu', async () => {
  const cpu = await convertOn('cpu');
  const gpu = await convertOn('webgpu');
  expect(tf.getBackend()).toBe('webgpu');
  expect(gpu.q.groups.length).toBe(cpu.q.groups.length);
  expect(gpu.q.groups.length).toBeGreaterThan(0);
  let worst = 0;
  gpu.q.groups.forEach((g, i) => {
    const c = cpu.q.groups[i];
    expect([g.block, g.group, g.alpha]).toEqual([c.block, c.group, c.alpha]);
    expect(g.scales.length).toBe(c.scales.length);
    g.scales.forEach((s, j) => { worst = Math.max(worst, Math.abs(s - c.scales[j]) / Math.abs(c.scales[j])); });
  });
  expect(worst).toBeLessThan(SCALE_RTOL);
  console.log(`largest relative scale difference webgpu vs cpu: ${worst.toExponential(2)}`);
  // The modality ratios the search used (tf.grad on webgpu; clamped from below by their median,
  // docs/algorithm.md §3.5) agree as closely. Raw ratios far below the median are float noise on
  // near-zero vision gradients and are not compared.
  gpu.q.sensitivity!.blocks.forEach((b, i) => {
    const c = cpu.q.sensitivity!.blocks[i];
    for (const site of ['attn', 'mlp'] as const) expect(Math.abs(b[site].clamped - c[site].clamped)).toBeLessThan(1e-4 * c[site].clamped);
  });

  // Both emitted models answer the same 12 evaluation questions the same way (evaluated on wasm:
  // the cpu backend's exact JavaScript MbqQuantizedMatMul is too slow for CI).
  await initBackend('wasm');
  const answers = async (dir: string): Promise<string[]> => {
    const engine = await loadEvalEngine(dir);
    try {
      const report = await evaluate(engine, EVAL, { limit: 12, keepPredictions: true, maxNewTokens: 4, batchSize: 12 });
      return report.predictions!.map((p) => p.prediction);
    } finally {
      engine.dispose();
    }
  };
  const t0 = Date.now();
  const [a, b] = [await answers(cpu.dir), await answers(gpu.dir)];
  console.log(`evaluating both: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  expect(a).toHaveLength(12);
  expect(b).toEqual(a);
}, 1_500_000);
