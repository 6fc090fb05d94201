import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { floatToHalfBits, halfToFloat } from '@tfjs-mbq/importer';
import { HALF_CHUNK_VALUES, ShardWriter, appendHalf, encodeHalf } from '../src/write/weights_file.js';

test('float32 -> float16 rounds to nearest, ties to even, against hand-computed bit patterns', () => {
  const cases: Array<[number, number]> = [
    [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff],
    [65520, 0x7c00], // halfway between 65504 and 65536 (= 2^16, out of range): ties to even -> overflow to inf
    [65519, 0x7bff], [2 ** -14, 0x0400], [2 ** -24, 0x0001],
    [2 ** -25, 0x0000], // half of the smallest subnormal: ties to even (0)
    [3 * 2 ** -25, 0x0002], // 1.5 subnormal steps: ties to even (2)
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and 1 + 2^-10: even mantissa (1)
    [1 + 3 * 2 ** -11, 0x3c02], // halfway between 1 + 2^-10 and 1 + 2^-9: even (1 + 2^-9)
    [0.1, 0x2e66], [Infinity, 0x7c00], [-Infinity, 0xfc00], [0, 0], [-0, 0x8000],
  ];
  for (const [v, bits] of cases) expect([v, floatToHalfBits(v)]).toEqual([v, bits]);
  expect(floatToHalfBits(NaN) & 0x7c00).toBe(0x7c00);
  expect(floatToHalfBits(NaN) & 0x3ff).not.toBe(0);
  // Every half survives the round trip.
  const broken: number[] = [];
  for (let h = 0; h < 0x10000; h++) if (((h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0) && floatToHalfBits(halfToFloat(h)) !== h) broken.push(h);
  expect(broken).toEqual([]);
});

test('float16 storage is written in chunks through one small buffer: bytes as the whole-tensor encoding, overflow found past the first chunk', async () => {
  const seed = (Date.now() >>> 0) % 100000;
  console.log(`half chunks seed ${seed}`);
  let s = seed;
  const rand = (): number => { s = (s * 1103515245 + 12345) % 2 ** 31; return s / 2 ** 31; };
  const n = 2 * HALF_CHUNK_VALUES + 12345; // three chunks, the last partial
  const values = Float32Array.from({ length: n }, () => (rand() - 0.5) * 1000);
  const dir = mkdtempSync(join(tmpdir(), 'half-chunks-'));
  try {
    const writer = new ShardWriter(dir, ['a.bin'], 1 << 30);
    expect(await appendHalf(writer, values)).toBe(-1);
    expect(await writer.close()).toBe(2 * n);
    expect(Buffer.from(readFileSync(join(dir, 'a.bin'))).equals(Buffer.from(encodeHalf(values).bytes))).toBe(true);
    values[HALF_CHUNK_VALUES + 7] = 1e6; // beyond float16's range, in the second chunk
    const w2 = new ShardWriter(dir, ['b.bin'], 1 << 30);
    expect(await appendHalf(w2, values)).toBe(HALF_CHUNK_VALUES + 7);
    await w2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
