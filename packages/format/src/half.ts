/** IEEE binary16 (float16) values as float32: every half is exact in float32. */

/** binary16 bits -> the float32 of the same value. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

let halfTable: Float32Array | undefined;
/** All 65536 halves as float32, built once (256 KiB): decoding is then one lookup per value. */
export function halfTableF32(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

/** Little-endian binary16 `bytes` (any byte offset) decoded into a new Float32Array. */
export function decodeHalfBytes(bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength >> 1;
  const t = halfTableF32();
  const out = new Float32Array(n);
  if (bytes.byteOffset % 2 === 0) {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n); // little-endian hosts (every tfjs target)
    for (let i = 0; i < n; i++) out[i] = t[h[i]!]!;
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) out[i] = t[view.getUint16(i * 2, true)]!;
  }
  return out;
}
