import { packCodes, unpackCodes, wordsPerRow } from '../src/packing.js';
import { mulberry32 } from '../src/util/prng.js';


const seed = (Date.now() ^ 0x5bd1e995) >>> 0;
const rand = mulberry32(seed);

/** Reads code k of a row straight from the bit definition, one bit at a time. */
function bitAt(words: Int32Array, base: number, bit: number): number {
  return (words[base + (bit >>> 5)] >>> (bit & 31)) & 1;
}

describe(`packing (seed ${seed})`, () => {
  it('wordsPerRow is ceil(K*bits/32)', () => {
    expect(wordsPerRow(32, 3)).toBe(3);
    expect(wordsPerRow(8, 4)).toBe(1);
    expect(wordsPerRow(33, 3)).toBe(4);
    expect(wordsPerRow(128, 3)).toBe(12);
    expect(wordsPerRow(0, 5)).toBe(0);
    expect(wordsPerRow(7, 8)).toBe(2);
  });

  it('packs a hand-computed 3-bit example (code straddling words 0 and 1)', () => {
    // Codes 0..10 at 3 bits: code 10 occupies bits 30..32 -> bits 30,31 of word 0 and bit 0 of word 1.
    const codes = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 7]);
    const packed = packCodes(codes, 1, 11, 3);
    expect(packed.length).toBe(2);
    let expect0 = 0;
    for (let k = 0; k < 10; k++) expect0 += codes[k] * 2 ** (3 * k);
    expect0 += (7 & 3) * 2 ** 30;
    expect(packed[0] >>> 0).toBe(expect0);
    expect(packed[1]).toBe(1);
  });

  it('packs 4-bit as 8 nibbles per word, low nibble first', () => {
    const packed = packCodes(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 15]), 1, 8, 4);
    expect(packed[0] >>> 0).toBe(0xf7654321);
  });

  for (let bits = 2; bits <= 8; bits++) {
    it(`round-trips ${bits}-bit codes for K not a multiple of 32, matching the bit definition`, () => {
      for (const K of [1, 31, 33, 45, 97, 130]) {
        const rows = 1 + Math.floor(rand() * 4);
        const codes = new Int32Array(rows * K);
        for (let i = 0; i < codes.length; i++) codes[i] = Math.floor(rand() * (1 << bits));
        codes[0] = (1 << bits) - 1; // the max code always appears
        const packed = packCodes(codes, rows, K, bits);
        const wpr = Math.ceil((K * bits) / 32);
        expect(packed.length).toBe(rows * wpr);
        // Every bit of every code is where the format says; tail bits are zero.
        for (let r = 0; r < rows; r++) {
          for (let k = 0; k < K; k++) {
            let v = 0;
            for (let b = 0; b < bits; b++) v |= bitAt(packed, r * wpr, k * bits + b) << b;
            expect(v).toBe(codes[r * K + k]);
          }
          for (let bit = K * bits; bit < wpr * 32; bit++) expect(bitAt(packed, r * wpr, bit)).toBe(0);
        }
        const back = unpackCodes(packed, rows, K, bits);
        expect(Array.from(back)).toEqual(Array.from(codes));
      }
    });
  }

  it('3-bit: 32 codes fill exactly 3 words with no wasted bits', () => {
    const codes = new Uint8Array(32).fill(7);
    const packed = packCodes(codes, 1, 32, 3);
    expect(Array.from(packed)).toEqual([-1, -1, -1]);
  });

  it('rejects bad input with clear messages', () => {
    expect(() => packCodes(Uint8Array.from([8]), 1, 1, 3)).toThrow(/packCodes: code 8 .* \[0, 7\]/);
    expect(() => packCodes(Uint8Array.from([1, 2]), 1, 3, 3)).toThrow(/packCodes: expected rows\*K/);
    expect(() => packCodes(Uint8Array.from([1]), 1, 1, 9)).toThrow(/bits must be an integer in \[2, 8\]/);
    expect(() => unpackCodes(new Int32Array(3), 1, 33, 3)).toThrow(/unpackCodes: expected rows\*wordsPerRow/);
    expect(() => wordsPerRow(10, 1)).toThrow(/wordsPerRow: bits/);
  });
});
