/**
 * Optional cache of unpacked weights for the wasm MbqQuantizedMatMul's unpack + XNNPACK fallback
 * (used only where the SIMD kernel cannot run, see quantized_matmul.ts), behind the tfjs flag
 * `MBQ_CACHE_UNPACKED_WEIGHTS` (default false):
 *
 *   tf.env().set('MBQ_CACHE_UNPACKED_WEIGHTS', true);
 *
 * Why: XNNPACK has no low-bit matmul, so every fallback call unpacks and dequantizes its codes, copies them
 * onto the wasm heap and has XNNPACK pack them for its matmul (an operator per weight tensor),
 * and decoding calls every linear once per token. With the flag, the unpacked weight stays on the
 * wasm heap, so XNNPACK's operator for it is built once and reused: decode runs near float speed,
 * but the packed format's memory saving is gone (a float model's footprint; the download saving
 * stays). Entries are keyed by the packed tensor's dataId (stable for a loaded model's weights),
 * checked against its scales and zeros, and freed after the packed tensor is disposed and
 * collected (WeakMap + FinalizationRegistry) or when new scales/zeros replace them.
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

interface DisposingBackend { disposeData(dataId: object): void }
interface Held { backend: DisposingBackend; tensors: TensorInfo[] }
interface Entry extends Held { scales: object; zeros: object; key: string }

function release(h: Held): void {
  for (const t of h.tensors) {
    try { h.backend.disposeData(t.dataId); } catch { /* the backend is gone, and its heap with it */ }
  }
}

const cache = new WeakMap<object, Entry[]>();
const finalizer = new FinalizationRegistry<Held>(release);

/** Counts since load (diagnostics and tests): a hit reuses an unpacked weight, a miss unpacks one. */
export const unpackedWeightCacheStats = { hits: 0, misses: 0 };

/**
 * Runs `use` on the backend tensors `build` makes for this packed/scales/zeros triple and `key`
 * (the layout). Without the flag they are made for this call and disposed after it; with the flag
 * they are made once and kept.
 */
export function withUnpackedWeight<R>(
  backend: object, packed: TensorInfo, scales: TensorInfo, zeros: TensorInfo, key: string,
  build: () => TensorInfo[], use: (weights: TensorInfo[]) => R,
): R {
  const owner = backend as DisposingBackend;
  if (!env().getBool(CACHE_UNPACKED_WEIGHTS)) {
    const tensors = build();
    try {
      return use(tensors);
    } finally {
      release({ backend: owner, tensors });
    }
  }
  const entries = cache.get(packed.dataId) ?? [];
  const hit = entries.find((e) => e.key === key && e.scales === scales.dataId && e.zeros === zeros.dataId && e.backend === owner);
  if (hit) {
    unpackedWeightCacheStats.hits++;
    return use(hit.tensors);
  }
  unpackedWeightCacheStats.misses++;
  // One entry per layout: new scales/zeros (or a new backend) for the same codes replace the old one.
  for (const old of entries.filter((e) => e.key === key)) {
    finalizer.unregister(old);
    release(old);
  }
  const entry: Entry = { backend: owner, tensors: build(), scales: scales.dataId, zeros: zeros.dataId, key };
  cache.set(packed.dataId, [...entries.filter((e) => e.key !== key), entry]);
  finalizer.register(packed.dataId, { backend: owner, tensors: entry.tensors }, entry);
  return use(entry.tensors);
}
