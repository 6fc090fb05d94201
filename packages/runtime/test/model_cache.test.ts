/**
 * loadVlm's browser cache (issue 14 §3) with an in-memory CacheStorage in Node (the page test runs
 * the real Cache API in Chromium): the first load over HTTP stores every file, the second makes no
 * request and answers the same; listCachedModels reports the model's files and bytes; after
 * deleteCachedModel the next load fetches again.
 */
import { createServer, type Server } from 'node:http';
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteCachedModel, listCachedModels, loadVlm, type CacheLike, type CacheStorageLike } from '@tfjs-mbq/runtime';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const FIXTURE = join(root, 'fixtures/tiny-vlm');

/** A Map-backed CacheStorage with the Cache API's semantics for what the runtime uses. */
function memoryCaches(): CacheStorageLike & { names: Map<string, Map<string, Response>> } {
  const names = new Map<string, Map<string, Response>>();
  return {
    names,
    async open(name: string): Promise<CacheLike> {
      const m = names.get(name) ?? new Map<string, Response>();
      names.set(name, m);
      return {
        async match(url) { return m.get(url)?.clone(); },
        async put(url, response) { m.set(url, response); },
        async keys() { return [...m.keys()].map((url) => ({ url })); },
        async delete(url) { return m.delete(url); },
      };
    },
  };
}

describe('loadVlm cache', () => {
  let server: Server;
  let base: string;
  const requests: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url!);
      readFile(join(FIXTURE, decodeURIComponent(req.url!.replace(/^\/m\//, ''))))
        .then((b) => { res.writeHead(200, { 'content-length': b.byteLength }); res.end(b); })
        .catch(() => { res.writeHead(404); res.end(); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/m/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('fetches once, then loads from the cache; lists and deletes the model', async () => {
    const storage = memoryCaches();
    const first = await loadVlm(base, { backend: 'cpu', kvCache: false, cache: { storage } });
    const firstPrompt = first.promptIds('what color is the circle ?');
    first.dispose();
    const fetched = requests.length;
    expect(requests).toEqual(expect.arrayContaining(['/m/model.json', '/m/group1-shard1of1.bin', '/m/mbq.json', '/m/tokenizer.json']));
    const second = await loadVlm(`${base}model.json`, { backend: 'cpu', kvCache: false, cache: { storage } });
    expect(requests.length).toBe(fetched); // nothing read over HTTP
    expect(second.promptIds('what color is the circle ?')).toEqual(firstPrompt);
    second.dispose();

    const listed = await listCachedModels({ storage });
    const served = (await readdir(FIXTURE)).filter((f) => requests.includes(`/m/${f}`));
    let bytes = 0;
    for (const f of served) bytes += (await stat(join(FIXTURE, f))).size;
    expect(listed).toEqual([{ url: base, files: served.length, bytes }]);
    expect(storage.names.has('tfjs-mbq-models')).toBe(true);

    expect(await deleteCachedModel(`${base}model.json`, { storage })).toBe(served.length);
    expect(await listCachedModels({ storage })).toEqual([]);
    expect(await deleteCachedModel(base, { storage })).toBe(0);
    const third = await loadVlm(base, { backend: 'cpu', kvCache: false, cache: { storage } });
    third.dispose();
    expect(requests.length).toBe(2 * fetched);
  });

  // Issue 15: a cached entry is trusted for no more than the size it recorded and the reader's limit.
  it('a poisoned entry (an endless body, or a recorded size past the limit) is read no further and replaced from the network', async () => {
    const storage = memoryCaches();
    const cache = await storage.open('tfjs-mbq-models');
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({ pull(c) { pulled += 1 << 20; c.enqueue(new Uint8Array(1 << 20)); } });
    await cache.put(`${base}model.json`, new Response(endless, { headers: { 'x-mbq-bytes': '100' } }));
    await cache.put(`${base}mbq.json`, new Response('{}', { headers: { 'x-mbq-bytes': String(2 ** 50) } }));
    const fetched = requests.length;
    const vlm = await loadVlm(base, { backend: 'cpu', kvCache: false, cache: { storage } });
    vlm.dispose();
    expect(pulled).toBeLessThanOrEqual(4 << 20); // the stream's first few chunks (pulled ahead, and by the clone), not the endless rest
    expect(requests.slice(fetched)).toEqual(expect.arrayContaining(['/m/model.json', '/m/mbq.json']));
    for (const f of ['model.json', 'mbq.json']) {
      const entry = await cache.match(`${base}${f}`);
      expect(new Uint8Array(await entry!.arrayBuffer())).toEqual(new Uint8Array(await readFile(join(FIXTURE, f))));
    }
  });

  it('without caches (Node) cache: true says what is missing; a local directory ignores the option', async () => {
    await expect(loadVlm(base, { backend: 'cpu', cache: true })).rejects.toThrow(/cache needs the Cache API/);
    const local = await loadVlm(FIXTURE, { backend: 'cpu', kvCache: false, cache: true });
    local.dispose();
  });
});
