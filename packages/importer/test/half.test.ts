import { floatToHalfBits, halfToFloat } from '@tfjs-mbq/importer';

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
