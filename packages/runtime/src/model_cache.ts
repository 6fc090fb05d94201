/**
 * Browser caching of models: the files of a model loaded from a URL with `cache` are kept in the
 * Cache API (`caches`, or storage the app passes), so the next load reads them from there instead
 * of the network. Each file is cached whole, after the format's source has checked it (origin,
 * size limits); `listCachedModels` and `deleteCachedModel` manage what is kept.
 */
import { absoluteLocation, joinLocation, type FileSource } from '@tfjs-mbq/format';
import { splitModelLocation } from './sources.js';

/** The parts of the Cache API's Cache that the runtime uses. */
export interface CacheLike {
  /** The stored response of `url`, if any. */
  match(url: string): Promise<Response | undefined>;
  /** Stores `response` under `url`. */
  put(url: string, response: Response): Promise<void>;
  /** Every stored request (its `url`). */
  keys(): Promise<ReadonlyArray<{ url: string }>>;
  /** Removes `url`; true if it was there. */
  delete(url: string): Promise<boolean>;
}

/** The parts of the Cache API's CacheStorage (the global `caches`) that the runtime uses. */
export interface CacheStorageLike {
  /** The cache of that name, created if missing. */
  open(name: string): Promise<CacheLike>;
}

/** Which cache holds models (see loadVlm's `cache`). */
export interface ModelCacheOptions {
  /** Cache name (default `tfjs-mbq-models`). */
  name?: string;
  /** Where caches live (default the global `caches` of browsers and workers). */
  storage?: CacheStorageLike;
}

/** One cached model (see {@link listCachedModels}). */
export interface CachedModel {
  /** The model's base URL (where its model.json is), ending in `/`. */
  url: string;
  /** Files cached under it (model.json, shards, sidecars). */
  files: number;
  /** Their bytes. */
  bytes: number;
}

/** The Cache API cache that models go into by default. */
export const DEFAULT_MODEL_CACHE = 'tfjs-mbq-models';
const BYTES_HEADER = 'x-mbq-bytes';

export async function openModelCache(options: ModelCacheOptions = {}): Promise<CacheLike> {
  const storage = options.storage ?? (globalThis as { caches?: CacheStorageLike }).caches;
  if (!storage) throw new Error('loadVlm: cache needs the Cache API (`caches`, in browsers and workers on http(s) pages), which is not available here; pass cache: { storage } or leave cache off');
  return storage.open(options.name ?? DEFAULT_MODEL_CACHE);
}

/**
 * `inner` with each file read from `cache` when it is there (and within the reader's size limit),
 * else read from `inner` and then stored. Failing to store (quota) does not fail the read.
 */
export function cachedSource(inner: FileSource, cache: CacheLike): FileSource {
  return {
    location: inner.location,
    where: (file) => inner.where(file),
    async read(file: string, maxBytes: number): Promise<Uint8Array> {
      const url = inner.where(file);
      const hit = await cache.match(url);
      const cached = hit && await cachedBytes(hit, maxBytes);
      if (cached) return cached;
      const bytes = await inner.read(file, maxBytes);
      const response = new Response(bytes.slice(), { headers: { 'content-type': 'application/octet-stream', [BYTES_HEADER]: String(bytes.byteLength) } });
      await cache.put(url, response).catch(() => undefined);
      return bytes;
    },
  };
}

/**
 * The body of a cache hit when it holds exactly the bytes it recorded (BYTES_HEADER) and no more
 * than `maxBytes`; else undefined, and the file is read again and the entry replaced. The size is
 * checked before the body is read and the body read no further than that, so a damaged or
 * poisoned entry (a huge or endless body) costs at most `maxBytes`, never more.
 */
async function cachedBytes(hit: Response, maxBytes: number): Promise<Uint8Array | undefined> {
  const declared = Number(hit.headers.get(BYTES_HEADER) ?? NaN);
  if (!Number.isSafeInteger(declared) || declared < 0 || declared > maxBytes) {
    void hit.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (!hit.body) return declared === 0 ? new Uint8Array(0) : undefined;
  const out = new Uint8Array(declared);
  const reader = hit.body.getReader();
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return n === declared ? out : undefined;
      if (n + value.byteLength > declared) return undefined;
      out.set(value, n);
      n += value.byteLength;
    }
  } finally {
    // Not awaited: cancelling one branch of a tee'd body (a cloned response) settles only when the other is cancelled too.
    void reader.cancel().catch(() => undefined);
  }
}

/** The base URL of a model location (a directory URL or its model.json), ending in `/`. */
function baseUrl(location: string): string {
  return joinLocation(splitModelLocation(location).base, '');
}

/** Cached files grouped by model: those under a cached model.json's directory (the deepest one). */
async function groupByModel(cache: CacheLike): Promise<Map<string, string[]>> {
  const urls = (await cache.keys()).map((r) => r.url);
  const bases = urls.filter((u) => u.endsWith('/model.json')).map((u) => u.slice(0, -'model.json'.length)).sort((a, b) => b.length - a.length);
  const groups = new Map<string, string[]>(bases.map((b) => [b, []]));
  for (const u of urls) {
    const base = bases.find((b) => u.startsWith(b));
    if (base) groups.get(base)!.push(u);
  }
  return groups;
}

/** The models in the cache, by base URL, with their file count and bytes. */
export async function listCachedModels(options: ModelCacheOptions = {}): Promise<CachedModel[]> {
  const cache = await openModelCache(options);
  const out: CachedModel[] = [];
  for (const [url, files] of await groupByModel(cache)) {
    let bytes = 0;
    for (const f of files) {
      const r = await cache.match(f);
      bytes += Number(r?.headers.get(BYTES_HEADER) ?? 0);
    }
    out.push({ url, files: files.length, bytes });
  }
  return out.sort((a, b) => a.url.localeCompare(b.url));
}

/**
 * Deletes a cached model (`location` as given to loadVlm: its URL or its model.json URL), so the
 * next load fetches it again; returns the number of files deleted (0 if it was not cached).
 */
export async function deleteCachedModel(location: string, options: ModelCacheOptions = {}): Promise<number> {
  const cache = await openModelCache(options);
  const base = baseUrl(absoluteLocation(location));
  const files = (await groupByModel(cache)).get(base) ?? [];
  let n = 0;
  for (const f of files) if (await cache.delete(f)) n++;
  return n;
}
