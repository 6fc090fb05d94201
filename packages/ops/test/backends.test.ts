import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';

describe('initBackend', () => {
  it.each(['cpu', 'wasm', 'webgpu'] as const)('initialises %s and computes', async (name) => {
    const report = await initBackend(name);
    expect(report.backend).toBe(name);
    expect(tf.getBackend()).toBe(name);
    const a = Math.random() * 10;
    const y = await tf.mul(tf.tensor1d([a, -a]), 2).data();
    expect(Array.from(y)[0]).toBeCloseTo(2 * a, 5);
    expect(Array.from(y)[1]).toBeCloseTo(-2 * a, 5);
  });

  it('reports the WebGPU adapter it got', async () => {
    const report = await initBackend('webgpu');
    expect(report.adapter).toBeDefined();
    expect(typeof report.adapter!.software).toBe('boolean');
  });

  it('explains how to get the tensorflow backend when it is not installed', async () => {
    await expect(initBackend('tensorflow')).rejects.toThrow(/tfjs-node/);
  });

  it('auto picks a working backend and says which', async () => {
    const report = await initBackend('auto');
    expect(['tensorflow', 'webgpu', 'wasm', 'cpu']).toContain(report.backend);
    expect(report.detail).toMatch(/^auto:/);
  });

  it('rejects an unknown name', async () => {
    await expect(initBackend('metal' as never)).rejects.toThrow(/unknown backend 'metal'/);
  });
});
