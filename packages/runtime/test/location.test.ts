/**
 * loadVlm's location: a directory or base URL, or the model.json itself as tfjs users pass it to
 * tf.loadGraphModel; and `backend: 'current'` only with a backend the MBQ kernels run on.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, loadVlm, type FetchLike } from '@tfjs-mbq/runtime';
import { splitModelLocation } from '../src/sources.js';
import { testImage, TINY, writeTinyVlm } from './helpers/tiny_vlm.js';

let root: string;
let dir: string;

beforeAll(async () => {
  await initBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'mbq-rt-location-'));
  dir = await writeTinyVlm(join(root, 'm'), { seed: 3 });
});
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

test('splitModelLocation: a trailing model.json splits off, anything else is the directory', () => {
  expect(splitModelLocation('https://h.example/models/m/model.json')).toEqual({ base: 'https://h.example/models/m', graphFile: 'model.json' });
  expect(splitModelLocation('out/m/model.json')).toEqual({ base: 'out/m', graphFile: 'model.json' });
  expect(splitModelLocation('out/my-model.json')).toEqual({ base: 'out/my-model.json', graphFile: 'model.json' });
  expect(splitModelLocation('model.json')).toEqual({ base: '.', graphFile: 'model.json' });
  expect(splitModelLocation('https://h.example/models/m/')).toEqual({ base: 'https://h.example/models/m/', graphFile: 'model.json' });
  expect(splitModelLocation('C:\\models\\m\\model.json')).toEqual({ base: 'C:\\models\\m', graphFile: 'model.json' });
});

test('a path to model.json loads the same model as its directory', async () => {
  const image = testImage(TINY.imageSize);
  const byDir = await loadVlm(dir, { backend: 'cpu' });
  const byFile = await loadVlm(join(dir, 'model.json'), { backend: 'cpu' });
  const a = await byDir.generate(image, 'what color is the shape ?', { maxNewTokens: 4 });
  const b = await byFile.generate(image, 'what color is the shape ?', { maxNewTokens: 4 });
  expect(b.tokenIds).toEqual(a.tokenIds);
  expect(a.tokenIds.length).toBeGreaterThan(0);
  byDir.dispose(); byFile.dispose();
});

test('a model.json URL reads the other files next to it', async () => {
  const requested: string[] = [];
  const fetchStub: FetchLike = async (url) => {
    requested.push(url);
    const file = url.replace('https://models.example/m/', '');
    const body = await readFile(join(dir, file)).catch(() => null);
    return { ok: body !== null, status: body ? 200 : 404, statusText: body ? 'OK' : 'Not Found', arrayBuffer: async () => new Uint8Array(body!).buffer };
  };
  const vlm = await loadVlm('https://models.example/m/model.json', { backend: 'cpu', fetch: fetchStub });
  expect(vlm.backend).toBe('cpu');
  expect(requested).toEqual(expect.arrayContaining(['https://models.example/m/model.json', 'https://models.example/m/mbq.json', 'https://models.example/m/tokenizer.json']));
  vlm.dispose();
});

test("backend 'current' refuses a backend without MBQ kernels, naming it", async () => {
  tf.registerBackend('no-mbq-kernels', () => tf.findBackend('cpu')!, -1);
  try {
    await tf.setBackend('no-mbq-kernels');
    await expect(loadVlm(dir, { backend: 'current' })).rejects.toThrow(
      "loadVlm: backend 'current' is the app's 'no-mbq-kernels', but the MBQ kernels run on webgpu, wasm, cpu, tensorflow: set one of those, or pass backend: 'auto'");
  } finally {
    await tf.setBackend('cpu');
    tf.removeBackend('no-mbq-kernels');
  }
});
