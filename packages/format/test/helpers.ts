/** A tiny valid graph model (two float weights in one or two shards) for reader tests. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelJson } from '@tfjs-mbq/format';

export const W1 = Float32Array.from([1, 2, 3, 4, 5, 6]);
export const W2 = Float32Array.from([0.5, -0.5]);

export function modelJson(paths: string[] = ['group1-shard1of1.bin']): ModelJson {
  const constNode = (name: string, shape: number[]) => ({
    name, op: 'Const',
    attr: { dtype: { type: 'DT_FLOAT' as const }, value: { tensor: { dtype: 'DT_FLOAT' as const, tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } } },
  });
  return {
    format: 'graph-model',
    modelTopology: { node: [constNode('w1', [2, 3]), constNode('w2', [2]), { name: 'x', op: 'Placeholder' }, { name: 'y', op: 'MatMul', input: ['x', 'w1'] }] },
    weightsManifest: [{ paths, weights: [{ name: 'w1', shape: [2, 3], dtype: 'float32' }, { name: 'w2', shape: [2], dtype: 'float32' }] }],
  };
}

/** All weight bytes (32) in manifest order. */
export function weightBytes(): Uint8Array {
  const out = new Uint8Array(W1.byteLength + W2.byteLength);
  out.set(new Uint8Array(W1.buffer), 0);
  out.set(new Uint8Array(W2.buffer), W1.byteLength);
  return out;
}

/** Writes a model directory; `split` puts the weights into two shards (20 + 12 bytes). */
export async function writeModel(dir: string, split = false): Promise<void> {
  await mkdir(dir, { recursive: true });
  const bytes = weightBytes();
  if (split) {
    await writeFile(join(dir, 'a.bin'), bytes.subarray(0, 20));
    await writeFile(join(dir, 'b.bin'), bytes.subarray(20));
    await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson(['a.bin', 'b.bin'])));
  } else {
    await writeFile(join(dir, 'group1-shard1of1.bin'), bytes);
    await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson()));
  }
}
