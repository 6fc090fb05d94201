/** Weight layouts (plan.ts) against plain index arithmetic, with reads split into many small chunks. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsCheckpoint, loadWeight } from '@tfjs-mbq/importer';
import { f32, u16, writeSafetensors } from './helpers/safetensors_writer.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'layout-test-'));
  writeSafetensors(join(dir, 'model.safetensors'), [
    f32('lin', [3, 5], Array.from({ length: 15 }, (_, i) => i + 0.5)),
    f32('conv', [2, 3, 2, 2], Array.from({ length: 24 }, (_, i) => -i)),
    // BF16 0x3F80 + i: 1 + i/128.
    u16('bf', 'BF16', [4, 2], Array.from({ length: 8 }, (_, i) => 0x3f80 + i)),
  ]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it.each([undefined, 8, 12])('transpose and conv_patch layouts, read chunk %s bytes', async (chunk) => {
  const ckpt = await SafetensorsCheckpoint.open(dir, chunk);
  const lin = await loadWeight(ckpt, { name: 'w', shape: [5, 3], source: 'lin', sourceShape: [3, 5], transform: { kind: 'transpose' } });
  for (let r = 0; r < 3; r++) for (let c = 0; c < 5; c++) expect(lin[c * 3 + r]).toBe(r * 5 + c + 0.5);
  const conv = await loadWeight(ckpt, { name: 'p', shape: [12, 2], source: 'conv', sourceShape: [2, 3, 2, 2], transform: { kind: 'conv_patch' } });
  // out[(y·2 + x)·3 + c][o] = W[o][c][y][x]
  for (let o = 0; o < 2; o++) for (let c = 0; c < 3; c++) for (let y = 0; y < 2; y++) for (let x = 0; x < 2; x++) {
    expect(conv[((y * 2 + x) * 3 + c) * 2 + o]).toBe(-(((o * 3 + c) * 2 + y) * 2 + x));
  }
  const bf = await loadWeight(ckpt, { name: 'b', shape: [2, 4], source: 'bf', sourceShape: [4, 2], transform: { kind: 'transpose' } });
  expect(Array.from(bf)).toEqual([0, 2, 4, 6, 1, 3, 5, 7].map((i) => 1 + i / 128));
  await ckpt.close();
});
