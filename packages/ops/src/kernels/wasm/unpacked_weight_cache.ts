/**
 * Optional cache of unpacked weights for the wasm MbqQuantizedMatMul, behind the tfjs flag
 * `MBQ_CACHE_UNPACKED_WEIGHTS` (default false):
 *
 *   tf.env().set('MBQ_CACHE_UNPACKED_WEIGHTS', true);
 *
 * Why: XNNPACK has no low-bit matmul, so every call unpacks and dequantizes its codes on the host,
 * and decoding calls every linear once per token. With the flag, a weight is unpacked once and
 * kept as float32 in JavaScript memory: decode runs at float speed, but the packed format's memory
 * saving is gone (the download saving stays). Entries are keyed by the packed tensor's dataId
 * (stable for a loaded model's weights) and checked against its scales and zeros; they are freed
 * with the tensor (WeakMap).
 */
import { env, type TensorInfo } from '@tensorflow/tfjs-core';

export const CACHE_UNPACKED_WEIGHTS = 'MBQ_CACHE_UNPACKED_WEIGHTS';

/** Registers the flag once (registerMbqOps calls this). */
export function registerUnpackedWeightCacheFlag(): void {
  try {
    env().get(CACHE_UNPACKED_WEIGHTS);
  } catch {
    env().registerFlag(CACHE_UNPACKED_WEIGHTS, () => false);
  }
}

interface Entry { scales: object; zeros: object; key: string; value: Float32Array | Uint8Array }
const cache = new WeakMap<object, Entry[]>();

/** Counts since load (diagnostics and tests): a hit reuses an unpacked weight, a miss unpacks one. */
export const unpackedWeightCacheStats = { hits: 0, misses: 0 };

/**
 * `build()`, or its cached result for this packed/scales/zeros triple and `key` (the layout, e.g.
 * `wT` or `codes`) when the flag is on.
 */
export function unpackedWeight<T extends Float32Array | Uint8Array>(
  packed: TensorInfo, scales: TensorInfo, zeros: TensorInfo, key: string, build: () => T,
): T {
  if (!env().getBool(CACHE_UNPACKED_WEIGHTS)) return build();
  const entries = cache.get(packed.dataId) ?? [];
  const hit = entries.find((e) => e.key === key && e.scales === scales.dataId && e.zeros === zeros.dataId);
  if (hit) {
    unpackedWeightCacheStats.hits++;
    return hit.value as T;
  }
  unpackedWeightCacheStats.misses++;
  const value = build();
  // One entry per layout; a new scales/zeros pair for the same codes replaces the old one.
  cache.set(packed.dataId, [...entries.filter((e) => e.key !== key), { scales: scales.dataId, zeros: zeros.dataId, key, value }]);
  return value;
}
