/**
 * Bit packing of integer codes (docs/architecture.md, "Packed low-bit weights").
 *
 * Row r of a [rows, K] code matrix becomes one dense little-endian bitstream of
 * `wordsPerRow(K, bits) = ceil(K * bits / 32)` 32-bit words: code k occupies bits
 * [k*bits, k*bits + bits) counted from bit 0 of word 0, and may straddle two words.
 * Unused tail bits are zero. Words are held in an Int32Array (the bit pattern is what counts).
 */

import { MAX_WEIGHT_BITS, MIN_WEIGHT_BITS, weightBitsProblem, wordsPerRow } from '@tfjs-mbq/format';

// The bit range and the row length are facts of the model format; ops packs to them.
export { MIN_WEIGHT_BITS as MIN_BITS, MAX_WEIGHT_BITS as MAX_BITS, wordsPerRow };

function checkBits(fn: string, bits: number): void {
  const problem = weightBitsProblem(bits);
  if (problem !== undefined) throw new Error(`${fn}: ${problem}`);
}

function checkDim(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new Error(`${fn}: ${name} must be a non-negative integer, got ${v}`);
}


/**
 * Packs `codes` (row-major [rows, K], each in [0, 2^bits - 1]) into Int32 words [rows, wordsPerRow].
 * Throws on a code out of range: silently masking it would corrupt the neighbouring code.
 */
export function packCodes(codes: ArrayLike<number>, rows: number, K: number, bits: number): Int32Array {
  checkBits('packCodes', bits);
  checkDim('packCodes', 'rows', rows);
  checkDim('packCodes', 'K', K);
  if (codes.length !== rows * K) {
    throw new Error(`packCodes: expected rows*K = ${rows}*${K} = ${rows * K} codes, got ${codes.length}`);
  }
  const wpr = wordsPerRow(K, bits);
  const maxCode = (1 << bits) - 1;
  const out = new Int32Array(rows * wpr);
  for (let r = 0; r < rows; r++) {
    const src = r * K;
    const dst = r * wpr;
    for (let k = 0; k < K; k++) {
      const q = codes[src + k];
      if (!(q >= 0 && q <= maxCode) || !Number.isInteger(q)) {
        throw new Error(`packCodes: code ${q} at row ${r}, index ${k} is not an integer in [0, ${maxCode}]`);
      }
      const bit = k * bits;
      const w = bit >>> 5;
      const off = bit & 31;
      out[dst + w] |= q << off;
      // Straddles into the next word: its high part goes to the low bits of word w+1.
      if (off + bits > 32) out[dst + w + 1] |= q >>> (32 - off);
    }
  }
  return out;
}

/** Inverse of packCodes: Int32 words [rows, wordsPerRow] -> codes [rows, K] as a Uint8Array. */
export function unpackCodes(packed: ArrayLike<number>, rows: number, K: number, bits: number): Uint8Array {
  checkBits('unpackCodes', bits);
  checkDim('unpackCodes', 'rows', rows);
  checkDim('unpackCodes', 'K', K);
  const wpr = wordsPerRow(K, bits);
  if (packed.length !== rows * wpr) {
    throw new Error(`unpackCodes: expected rows*wordsPerRow = ${rows}*${wpr} = ${rows * wpr} words, got ${packed.length}`);
  }
  const mask = (1 << bits) - 1;
  const out = new Uint8Array(rows * K);
  for (let r = 0; r < rows; r++) {
    const src = r * wpr;
    const dst = r * K;
    for (let k = 0; k < K; k++) {
      const bit = k * bits;
      const w = bit >>> 5;
      const off = bit & 31;
      let v = packed[src + w] >>> off;
      if (off + bits > 32) v |= packed[src + w + 1] << (32 - off);
      out[dst + k] = v & mask;
    }
  }
  return out;
}
