/**
 * Issue 14 §2: the README's `convert()` snippet in a fresh Node process, where no tfjs backend
 * is registered yet ("No backend found in registry" before): convert initialises `backend`
 * (default `auto`) itself. Runs the built packages in a child process, as an app would.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeSyntheticModel } from './helpers/synthetic.js';

const ROOT = process.cwd();
const CONVERTER = join(ROOT, 'packages/converter/dist/index.js');
const CALIB = join(ROOT, 'fixtures/shapes-vqa/calib');
let model: string;
let parent: string;

beforeAll(async () => {
  expect(existsSync(CONVERTER)).toBe(true); // built by `npm test` (tsc -b) before jest
  model = await writeSyntheticModel({ layers: 1, seed: 81 });
  parent = mkdtempSync(join(tmpdir(), 'mbq-api-'));
});
afterAll(() => { for (const d of [model, parent]) if (d) rmSync(d, { recursive: true, force: true }); });

/** convert() in a fresh process with `extra` options; prints the backend it ran on. */
function convertInChild(out: string, extra: string): { status: number | null; stdout: string; stderr: string } {
  const script = `
    import * as tf from '@tensorflow/tfjs-core';
    const { convert } = await import(${JSON.stringify(pathToFileURL(CONVERTER).href)});
    if (tf.engine().backendName) throw new Error('a backend was set before convert()');
    const r = await convert({ modelDir: process.argv[1], calibDir: process.argv[2], outDir: process.argv[3], method: 'rtn', wBits: 4, samples: 2 ${extra} });
    process.stdout.write(r.backend + ' ' + tf.getBackend() + '\\n');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, model, CALIB, out], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('without a backend option, convert() initialises auto and converts', () => {
  const r = convertInChild(join(parent, 'auto'), '');
  expect(r.stderr).not.toMatch(/No backend found/);
  expect(r.status).toBe(0);
  const [reported, active] = r.stdout.trim().split(' ');
  expect(['webgpu', 'wasm', 'cpu', 'tensorflow']).toContain(reported);
  expect(active).toBe(reported);
  expect(readdirSync(join(parent, 'auto'))).toContain('model.json');
}, 150_000);

test("backend: 'cpu' is the backend it runs on; a name that is not one is refused before any work", () => {
  const r = convertInChild(join(parent, 'cpu'), ", backend: 'cpu'");
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('cpu cpu');
  const bad = convertInChild(join(parent, 'bad'), ", backend: 'gpu'");
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toContain('--backend must be one of auto, webgpu, wasm, cpu, tensorflow, current, got "gpu"');
  expect(existsSync(join(parent, 'bad'))).toBe(false);
}, 150_000);
