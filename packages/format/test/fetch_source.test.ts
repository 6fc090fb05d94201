/**
 * Issue 15 §2 and §4 over HTTP (loopback servers only): the model's origin is kept, percent-encoded
 * traversal never reaches the network, bodies stop at the declared size, and a response that never
 * ends or drips is cut by the time-out or the caller's AbortSignal.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchSource, readGraphModel, readJsonFile, type FormatError } from '@tfjs-mbq/format';
import { modelJson, weightBytes } from './helpers.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Loopback { url: string; requests: string[]; sent: () => number; close: () => Promise<void> }

/** An HTTP server on 127.0.0.1 (or `host`); `routes` by path; counts body bytes it wrote. */
async function serve(routes: Record<string, Handler>, host = '127.0.0.1'): Promise<Loopback> {
  const requests: string[] = [];
  let sent = 0;
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const write = res.write.bind(res);
    res.write = ((chunk: Uint8Array | string, ...rest: unknown[]) => { sent += typeof chunk === 'string' ? chunk.length : chunk.byteLength; return (write as (...a: unknown[]) => boolean)(chunk, ...rest); }) as typeof res.write;
    const h = routes[new URL(req.url ?? '/', 'http://x').pathname];
    if (h) h(req, res);
    else { res.statusCode = 404; res.end('no'); }
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`, requests, sent: () => sent,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const body = (data: Uint8Array | string): Handler => (_req, res) => { res.end(data); };

function modelRoutes(paths = ['group1-shard1of1.bin']): Record<string, Handler> {
  return { '/m/model.json': body(JSON.stringify(modelJson(paths))), '/m/group1-shard1of1.bin': body(weightBytes()) };
}

async function failure(p: Promise<unknown>): Promise<FormatError> {
  try { await p; } catch (e) { return e as FormatError; }
  throw new Error('it loaded');
}

const servers: Loopback[] = [];
async function server(routes: Record<string, Handler>, host?: string): Promise<Loopback> {
  const s = await serve(routes, host);
  servers.push(s);
  return s;
}
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

test('a model over HTTP reads like one on disk', async () => {
  const s = await server(modelRoutes());
  const files = await readGraphModel(fetchSource(`${s.url}/m`));
  expect(Array.from(files.groups[0]!.bytes)).toEqual(Array.from(weightBytes()));
});

describe('§2 staying on the model origin', () => {
  test.each([['../secret.bin'], ['%2e%2e/secret.bin'], ['%2E%2E%2Fsecret.bin'], ['x/..%2F..%2Fsecret.bin'], ['http://127.0.0.1:1/x.bin'], ['//evil.example/x.bin']])(
    'the shard path %j is refused without any request for it', async (p) => {
      const s = await server({ ...modelRoutes([p]), '/secret.bin': body('s') });
      const e = await failure(readGraphModel(fetchSource(`${s.url}/m`)));
      expect(e.code).toBe('WEIGHTS_PATH_ESCAPE');
      expect(e.message).toContain(`${s.url}/m/model.json`);
      expect(s.requests).toEqual(['/m/model.json']);
    });

  test('a redirect to another origin is refused; one on the same origin is followed', async () => {
    const other = await server({ '/w.bin': body(weightBytes()) }, 'localhost');
    const s = await server({
      ...modelRoutes(),
      '/m/group1-shard1of1.bin': (_q, res) => { res.writeHead(302, { location: `${other.url}/w.bin` }); res.end(); },
    });
    const e = await failure(readGraphModel(fetchSource(`${s.url}/m`)));
    expect(e.message).toMatch(/group1-shard1of1\.bin: redirected to another origin \(http:\/\/localhost:\d+\); refused/);
    const allowed = await readGraphModel(fetchSource(`${s.url}/m`, { allowCrossOrigin: true }));
    expect(allowed.groups[0]!.bytes.byteLength).toBe(32);
    const same = await server({
      ...modelRoutes(), '/m/group1-shard1of1.bin': (_q, res) => { res.writeHead(302, { location: '/m/moved.bin' }); res.end(); }, '/m/moved.bin': body(weightBytes()),
    });
    expect((await readGraphModel(fetchSource(`${same.url}/m`))).groups[0]!.bytes.byteLength).toBe(32);
  });

  test('a 404 names the URL', async () => {
    const s = await server({ '/m/model.json': body(JSON.stringify(modelJson())) });
    const e = await failure(readGraphModel(fetchSource(`${s.url}/m`)));
    expect(e.code).toBe('WEIGHTS_SHARD_MISSING');
    expect(e.message).toContain(`${s.url}/m/group1-shard1of1.bin: weight shard listed in ${s.url}/m/model.json is missing (HTTP 404 Not Found)`);
  });
});

describe('§4 bodies larger than declared, and bodies that never end', () => {
  test('an endless body is cut just past the declared size (the server is not drained)', async () => {
    const s = await server({
      ...modelRoutes(),
      '/m/group1-shard1of1.bin': (_q, res) => {
        const chunk = new Uint8Array(64 * 1024);
        const pump = (): void => { while (!res.destroyed && res.write(chunk)) { /* until backpressure */ } if (!res.destroyed) res.once('drain', pump); };
        pump();
      },
    });
    const e = await failure(readGraphModel(fetchSource(`${s.url}/m`)));
    expect(e.code).toBe('WEIGHTS_SHARD_SIZE');
    expect(e.message).toMatch(/hold more than the 32 bytes/);
    expect(s.sent()).toBeLessThan(64 * 1024 * 1024); // socket buffers at most, not the endless body
  });

  test('a Content-Length above the declared size is refused before the body is read', async () => {
    const s = await server({
      ...modelRoutes(),
      '/m/group1-shard1of1.bin': (_q, res) => { res.writeHead(200, { 'content-length': String(4 * 1024 ** 3) }); res.write(new Uint8Array(16)); },
    });
    const e = await failure(readGraphModel(fetchSource(`${s.url}/m`)));
    expect(e.message).toMatch(/hold more than the 32 bytes .*model\.json describes \(the response declares 4294967296 bytes, more than the 32 expected/);
  });

  test('a dripping response is cut by the time-out', async () => {
    const s = await server({
      ...modelRoutes(),
      '/m/group1-shard1of1.bin': (_q, res) => { res.write(new Uint8Array(1)); const t = setInterval(() => { if (res.destroyed) clearInterval(t); else res.write(new Uint8Array(1)); }, 50); res.on('close', () => clearInterval(t)); },
    });
    const t0 = Date.now();
    const e = await failure(readGraphModel(fetchSource(`${s.url}/m`, { timeoutMs: 400 })));
    expect(e.message).toMatch(/group1-shard1of1\.bin: no complete response within 400 ms/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('a server that never answers is cut by the time-out, and the caller can abort', async () => {
    const s = await server({ '/m/model.json': () => { /* never answers */ } });
    const e = await failure(readJsonFile(fetchSource(`${s.url}/m`, { timeoutMs: 300 }), 'model.json', 'MODEL_JSON_READ'));
    expect(e.message).toMatch(/model\.json: no complete response within 300 ms/);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const t0 = Date.now();
    const e2 = await failure(readJsonFile(fetchSource(`${s.url}/m`, { signal: controller.signal }), 'model.json', 'MODEL_JSON_READ'));
    expect(e2.message).toMatch(/model\.json: aborted by the caller/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('a fetch that ignores the AbortSignal still cannot hold the reader past the time-out', async () => {
    const stuck = (): Promise<never> => new Promise<never>(() => { /* never settles */ });
    const e = await failure(readJsonFile(fetchSource('https://models.example/m', { fetch: stuck, timeoutMs: 200 }), 'model.json', 'MODEL_JSON_READ'));
    expect(e.message).toBe('https://models.example/m/model.json: no complete response within 200 ms');
  });
});

describe('a relative location (a page\'s path, as tfjs users pass it)', () => {
  const g = globalThis as { location?: { href: string } };
  afterEach(() => { delete g.location; });

  test('resolves against the page (globalThis.location) as fetch() does, and keeps to it', async () => {
    const s = await serve(modelRoutes());
    try {
      g.location = { href: `${s.url}/app/index.html` };
      for (const given of ['/m', '../m', '/m/']) {
        const src = fetchSource(given);
        expect(src.location).toBe(`${s.url}/m${given.endsWith('/') ? '/' : ''}`);
        expect(JSON.parse(new TextDecoder().decode(await src.read('model.json', 1 << 20)))).toEqual(modelJson(['group1-shard1of1.bin']));
      }
      expect(fetchSource('m').location).toBe(`${s.url}/app/m`);
      await expect(fetchSource('/m').read('../app/secret', 100)).rejects.toThrow(/outside|must stay under/);
    } finally {
      await s.close();
    }
  });

  test('with no page to resolve against: one line, naming the location', () => {
    expect(() => fetchSource('/models/m')).toThrow(/^\/models\/m: a relative model location needs a page to resolve against \(there is no globalThis\.location here\); give a full URL$/);
  });
});
