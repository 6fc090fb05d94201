/**
 * sensitivity/tfjs_gradients.ts is generated (tfjs-core's gradient registrations, bundled because
 * the core's Node entry registers none). This keeps it from drifting: it must be exactly what
 * esbuild builds from the installed @tensorflow/tfjs-core, and it must register the gradients the
 * sensitivity pass differentiates through.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { ensureGradients } from '@tfjs-mbq/converter';

const ROOT = process.cwd();

test('the vendored gradient bundle is what esbuild builds from the installed tfjs-core', () => {
  const r = spawnSync(join(ROOT, 'node_modules/.bin/esbuild'), [
    'node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js', '--bundle', '--format=esm',
    '--platform=neutral', '--minify', '--legal-comments=none',
  ], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 << 20 });
  expect(r.status).toBe(0);
  const vendored = readFileSync(join(ROOT, 'packages/converter/src/sensitivity/tfjs_gradients.ts'), 'utf8');
  const marker = 'export function registerTfjsCoreGradients(): void {\n';
  const body = vendored.slice(vendored.indexOf(marker) + marker.length).replace(/\n}\n?$/, '');
  expect(body.trim()).toBe(r.stdout.trim());
});

test('ensureGradients registers the gradients of the ops a VLM block uses', async () => {
  await initBackend('cpu');
  ensureGradients();
  for (const k of ['BatchMatMul', 'Softmax', 'Rsqrt', 'Multiply', 'Add', 'Sigmoid', 'Exp', 'GatherV2', 'Reshape', 'Transpose', 'Concat', 'Sum']) {
    expect([k, tf.getGradient(k) !== undefined]).toEqual([k, true]);
  }
  // And tf.grad works through them: d/dx sum(softmax(x W)) = 0 for any x (rows of softmax sum to 1).
  const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.softmax(tf.matMul(x as tf.Tensor2D, tf.tensor2d([[1, -2], [0.5, 3]])))))(tf.tensor2d([[0.3, -1.2]])).dataSync());
  for (const v of g) expect(Math.abs(v)).toBeLessThan(1e-6);
});
