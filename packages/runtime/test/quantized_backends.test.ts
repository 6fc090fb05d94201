/**
 * A converted-style model (MbqQuantizedMatMul nodes with packed 4-bit weights, and a W4A8 variant)
 * answers through the runtime on cpu, wasm and webgpu (Dawn on lavapipe here), with the KV cache.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { loadVlm, type Vlm } from '@tfjs-mbq/runtime';
import { TINY, testImage, writeTinyVlm } from './helpers/tiny_vlm.js';
import { loadVlmOnWebgpu } from './helpers/webgpu.js';

const QUESTION = 'what color is the shape?';

async function tokens(vlm: Vlm, seed: number): Promise<number[]> {
  return (await vlm.generate(testImage(TINY.imageSize, seed), QUESTION, { maxNewTokens: 8 })).tokenIds;
}

describe('quantized graph (MbqQuantizedMatMul) through the runtime', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mbq-q-'));
    await initBackend('cpu');
    await writeTinyVlm(join(dir, 'w4'), { seed: 12, eosScale: 0, quantize: { bits: 4, groupSize: 8 } });
    await writeTinyVlm(join(dir, 'w4a8'), { seed: 12, eosScale: 0, quantize: { bits: 4, groupSize: 8, actBits: 8 } });
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('plans the KV-cache step through MbqQuantizedMatMul and matches re-run decoding (cpu)', async () => {
    for (const name of ['w4', 'w4a8']) {
      const cached = await loadVlm(join(dir, name), { backend: 'cpu' });
      expect(cached.decoding).toBe('kv-cache');
      const plain = await loadVlm(join(dir, name), { backend: 'cpu', kvCache: false });
      for (const seed of [1, 2]) {
        const t = await tokens(cached, seed);
        expect(t).toHaveLength(8);
        expect(t).toEqual(await tokens(plain, seed));
      }
      cached.dispose();
      plain.dispose();
    }
  });

  it('gives the same answers on wasm and webgpu as on cpu', async () => {
    const cpu = await loadVlm(join(dir, 'w4'), { backend: 'cpu' });
    const expected = [await tokens(cpu, 1), await tokens(cpu, 2)];
    cpu.dispose();
    const wasm = await loadVlm(join(dir, 'w4'), { backend: 'wasm' });
    expect(wasm.backend).toBe('wasm');
    expect(wasm.decoding).toBe('kv-cache');
    expect([await tokens(wasm, 1), await tokens(wasm, 2)]).toEqual(expected);
    wasm.dispose();
    const gpu = await loadVlmOnWebgpu(join(dir, 'w4'));
    if (!gpu) return;
    expect(gpu.backend).toBe('webgpu');
    expect(gpu.decoding).toBe('kv-cache');
    expect([await tokens(gpu, 1), await tokens(gpu, 2)]).toEqual(expected);
    gpu.dispose();
    await initBackend('cpu');
  });
});
