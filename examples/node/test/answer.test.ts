import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Jimp } from 'jimp';
import { loadVlm } from '@tfjs-mbq/runtime';
import { TINY, testImage, writeTinyVlm } from '../../../packages/runtime/test/helpers/tiny_vlm.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const script = join(root, 'examples/node/answer.mjs');
const run = promisify(execFile);

describe('examples/node/answer.mjs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mbq-node-example-'));
    await writeTinyVlm(join(dir, 'model'), { seed: 21, eosScale: 0.5 });
    const img = testImage(TINY.imageSize, 4);
    await writeFile(join(dir, 'picture.png'), await Jimp.fromBitmap({ data: Buffer.from(img.data), width: img.width, height: img.height }).getBuffer('image/png'));
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('prints the answer the runtime gives for the same PNG', async () => {
    // The script imports the built package (packages/runtime/dist), as a user's app would.
    expect(existsSync(join(root, 'packages/runtime/dist/index.js'))).toBe(true);
    const { stdout, stderr } = await run(process.execPath, [script, join(dir, 'model'), join(dir, 'picture.png'), 'what', 'color', 'is', 'the', 'shape?'], {
      cwd: root, env: { ...process.env, TFJS_BACKEND: 'cpu', NODE_OPTIONS: '' }, timeout: 60_000,
    });
    expect(stderr).toMatch(/backend: cpu, decoding: kv-cache/);
    const vlm = await loadVlm(join(dir, 'model'), { backend: 'cpu' });
    const expected = await vlm.answer(await Jimp.read(join(dir, 'picture.png')), 'what color is the shape?', { maxNewTokens: 16 });
    vlm.dispose();
    expect(expected.length).toBeGreaterThan(0);
    expect(stdout.trim()).toBe(expected);
  });

  it('prints usage and exits 2 without arguments', async () => {
    await expect(run(process.execPath, [script], { cwd: root, env: { ...process.env, NODE_OPTIONS: '' } })).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/usage: node answer.mjs/) });
  });
});
