/**
 * firstNonFiniteStored finds NaN/Inf on stored bits; the oracle is the decoded array (decodeWeightBytes,
 * then Number.isFinite), on fresh random bit patterns where every NaN, Inf and subnormal occurs.
 */
import { decodeWeightBytes, firstNonFinite, firstNonFiniteStored, type WeightEntryJson } from '../src/index.js';

function oracle(entry: WeightEntryJson, bytes: Uint8Array): { index: number; nan: boolean } | null {
  const arr = decodeWeightBytes(entry, bytes.slice(), 'x');
  const index = firstNonFinite(arr);
  return index < 0 ? null : { index, nan: Number.isNaN(arr.data[index]) };
}

const f16: WeightEntryJson = { name: 'w', shape: [300], dtype: 'float32', quantization: { dtype: 'float16' } } as WeightEntryJson;
const f32: WeightEntryJson = { name: 'w', shape: [300], dtype: 'float32' };

describe('firstNonFiniteStored', () => {
  for (const [label, entry, width] of [['float16-stored', f16, 2], ['float32', f32, 4]] as const) {
    for (const offset of [0, 1]) {
      it(`${label}, byte offset ${offset}: the first NaN or Inf of random bits equals the decoded array's`, () => {
        for (let trial = 0; trial < 200; trial++) {
          const buf = new Uint8Array(300 * width + offset);
          const bytes = buf.subarray(offset);
          for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
          // Most trials: finite everywhere, then one planted NaN or Inf at a random place.
          const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          for (let i = 0; i < 300; i++) {
            if (width === 2) view.setUint16(i * 2, view.getUint16(i * 2, true) & 0xbfff, true);
            else view.setUint32(i * 4, view.getUint32(i * 4, true) & 0xbfffffff, true);
          }
          if (trial % 4 !== 0) {
            const at = Math.floor(Math.random() * 300);
            const nan = trial % 2 === 1;
            if (width === 2) view.setUint16(at * 2, (Math.random() < 0.5 ? 0x8000 : 0) | 0x7c00 | (nan ? 1 + Math.floor(Math.random() * 0x3ff) : 0), true);
            else view.setUint32(at * 4, ((Math.random() < 0.5 ? 0x80000000 : 0) | 0x7f800000 | (nan ? 1 + Math.floor(Math.random() * 0x7fffff) : 0)) >>> 0, true);
          }
          expect(firstNonFiniteStored(entry, bytes)).toEqual(oracle(entry, bytes));
        }
      });
    }
  }

  it('ignores int32 and bool weights', () => {
    const bytes = new Uint8Array([0, 0, 0x80, 0x7f]); // +Inf's bits
    expect(firstNonFiniteStored({ name: 'i', shape: [1], dtype: 'int32' }, bytes)).toBeNull();
    expect(firstNonFiniteStored({ name: 'b', shape: [4], dtype: 'bool' }, bytes)).toBeNull();
    expect(firstNonFiniteStored(f32, bytes)).toEqual({ index: 0, nan: false });
  });
});
