/**
 * A FileSource over HTTP(S) with fetch(): the model's base URL, its origin kept (redirects to
 * another origin refused unless allowed), bodies read as streams and cut at the byte limit, every
 * request bounded by a time-out and the caller's AbortSignal.
 */
import { joinLocation, relativePathProblem } from './paths.js';
import { SourceReadError, type FileSource } from './source.js';

/** The parts of a fetch Response the source uses (a test or an app may pass its own fetch). */
export interface FetchResponseLike {
  ok: boolean;
  status: number;
  statusText: string;
  /** The final URL after redirects (the source checks its origin when present). */
  url?: string;
  headers?: { get(name: string): string | null };
  body?: ReadableStream<Uint8Array> | null;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type FetchLike = (url: string, init?: { signal?: AbortSignal; redirect?: 'follow' }) => Promise<FetchResponseLike>;

export interface FetchSourceOptions {
  /** fetch() to use (default: the global fetch). */
  fetch?: FetchLike;
  /** Longest time one file may take, headers and body together (default 120 s). */
  timeoutMs?: number;
  /** Aborts every read of the source. */
  signal?: AbortSignal;
  /** Follow redirects to other origins (default false: the files must come from the model's origin). */
  allowCrossOrigin?: boolean;
}

export const DEFAULT_FETCH_TIMEOUT_MS = 120_000;

/** True for http(s) and other scheme URLs, except file://. */
export function isRemoteLocation(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !/^file:\/\//i.test(location);
}

/**
 * `location` as an absolute URL. A relative one (`/models/m`, `models/m/model.json`, as tfjs users
 * pass to `tf.loadGraphModel` in a page) resolves against the page or worker script
 * (`globalThis.location`), as fetch() itself resolves it; with nothing to resolve against it is
 * refused in one line.
 */
export function absoluteLocation(location: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(location)) return location;
  const page = (globalThis as { location?: { href?: unknown } }).location?.href;
  if (typeof page !== 'string') throw new Error(`${location}: a relative model location needs a page to resolve against (there is no globalThis.location here); give a full URL`);
  return new URL(location, page).href;
}

export function fetchSource(given: string, options: FetchSourceOptions = {}): FileSource {
  const location = absoluteLocation(given);
  // Wrapped: a detached window.fetch throws 'Illegal invocation'.
  const fetchImpl: FetchLike | undefined = options.fetch ?? (typeof fetch === 'function' ? (url, init) => fetch(url, init) : undefined);
  const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new Error(`fetchSource: timeoutMs must be positive, got ${timeoutMs}`);
  const base = new URL(joinLocation(location, ''));
  const where = (file: string): string => joinLocation(location, file);

  async function read(file: string, maxBytes: number): Promise<Uint8Array> {
    const url = where(file);
    const problem = relativePathProblem(file);
    if (problem !== undefined) throw new SourceReadError('outside', url, `${url}: the path '${file}' ${problem}; files must stay under ${location}`);
    const target = new URL(url);
    if (target.origin !== base.origin || !decodeURIComponent(target.pathname).startsWith(decodeURIComponent(base.pathname))) {
      throw new SourceReadError('outside', url, `${url}: outside ${location}`);
    }
    if (!fetchImpl) throw new SourceReadError('failed', url, `${url}: no fetch() available to read it`);
    const controller = new AbortController();
    let why = '';
    const abort = (reason: string): void => { if (!why) { why = reason; controller.abort(); } };
    const timer = setTimeout(() => abort(`no complete response within ${timeoutMs} ms`), timeoutMs);
    const onAbort = (): void => abort('aborted by the caller');
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort);
    // A fetch that ignores the signal still cannot hold the reader: every wait races the abort.
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(new SourceReadError('failed', url, `${url}: ${why}`)));
    });
    aborted.catch(() => undefined);
    const race = <T>(p: Promise<T>): Promise<T> => Promise.race([p, aborted]);
    try {
      let res: FetchResponseLike;
      try {
        res = await race(fetchImpl(url, { signal: controller.signal, redirect: 'follow' }));
      } catch (e) {
        if (e instanceof SourceReadError) throw e;
        throw new SourceReadError('failed', url, `${url}: ${why || `cannot fetch (${(e as Error).message})`}`);
      }
      if (res.url && !options.allowCrossOrigin && new URL(res.url).origin !== base.origin) {
        void res.body?.cancel().catch(() => undefined);
        throw new SourceReadError('outside', url, `${url}: redirected to another origin (${new URL(res.url).origin}); refused (allowCrossOrigin permits it)`);
      }
      if (!res.ok) {
        void res.body?.cancel().catch(() => undefined);
        throw new SourceReadError(res.status === 404 || res.status === 410 ? 'not-found' : 'failed', url, `${url}: HTTP ${res.status} ${res.statusText}`);
      }
      const declared = Number(res.headers?.get('content-length') ?? NaN);
      if (declared > maxBytes) {
        void res.body?.cancel().catch(() => undefined);
        throw new SourceReadError('too-large', url, `${url}: the response declares ${declared} bytes, more than the ${maxBytes} expected`);
      }
      // A declared length within bounds: let the browser read the body to its end (Chromium
      // reports a fetch whose stream reader was released before completion as net::ERR_ABORTED);
      // HTTP caps the body at Content-Length, and the length is checked again below.
      if (!res.body || (Number.isFinite(declared) && declared >= 0)) {
        const bytes = new Uint8Array(await race(res.arrayBuffer()));
        if (bytes.byteLength > maxBytes) throw new SourceReadError('too-large', url, `${url}: the response holds more than the ${maxBytes} bytes expected`);
        return bytes;
      }
      return await race(readBody(res.body, maxBytes, url));
    } catch (e) {
      if (e instanceof SourceReadError) throw e;
      throw new SourceReadError('failed', url, `${url}: ${why || (e as Error).message}`);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  return { location, where, read };
}

/** The whole stream, or a too-large error as soon as it passes `maxBytes` (the rest is not read). */
async function readBody(body: ReadableStream<Uint8Array>, maxBytes: number, url: string): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        void reader.cancel().catch(() => undefined);
        throw new SourceReadError('too-large', url, `${url}: the response holds more than the ${maxBytes} bytes expected`);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) { out.set(c, offset); offset += c.byteLength; }
  return out;
}
