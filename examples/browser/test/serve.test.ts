/**
 * Issue 15 §2: the example server serves only regular files inside its roots (real paths), stays
 * up after malformed requests (400), answers 404 for everything else, and its command line
 * refuses bad arguments with one line. Loopback only; every request is bounded by a timeout.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SERVE = resolve(here, '../serve.mjs');
const SECRET = 'secret-contents-outside-the-roots';
interface Served { url: string; close(): Promise<void> }
let server: Served;
let top: string;

/** A raw request (the path is sent exactly as given: no client-side normalisation). */
function get(path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((ok, fail) => {
    const req = request({ host: hostname, port, path, method, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += String(d); });
      res.on('end', () => ok({ status: res.statusCode!, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer within 5 s`)));
    req.on('error', fail);
    req.end();
  });
}

beforeAll(async () => {
  top = mkdtempSync(join(tmpdir(), 'mbq-serve-'));
  const model = join(top, 'model');
  const dist = join(top, 'dist');
  const outside = join(top, 'outside');
  for (const d of [model, dist, outside, join(model, 'sub')]) mkdirSync(d);
  writeFileSync(join(outside, 'secret.txt'), SECRET);
  writeFileSync(join(top, 'next-to-model.txt'), SECRET);
  writeFileSync(join(model, 'model.json'), '{"ok":true}');
  writeFileSync(join(model, 'sub', 'shard.bin'), 'shard');
  writeFileSync(join(dist, 'index.html'), '<p>page</p>');
  symlinkSync(join(outside, 'secret.txt'), join(model, 'link.json'));
  symlinkSync(outside, join(model, 'linked-dir'));
  symlinkSync('/dev/zero', join(model, 'zero.bin'));
  symlinkSync('sub/shard.bin', join(model, 'inner-link.bin'));
  execFileSync('mkfifo', [join(model, 'fifo.bin')]);
  const { startServer } = (await import(SERVE)) as { startServer: (o: { dist: string; modelDir: string }) => Promise<Served> };
  server = await startServer({ dist, modelDir: model });
});
afterAll(async () => {
  await server?.close();
  rmSync(top, { recursive: true, force: true });
});

test('serves the page and regular files of the model, links that stay inside included', async () => {
  expect(await get('/')).toEqual({ status: 200, body: '<p>page</p>' });
  expect(await get('/model/model.json')).toEqual({ status: 200, body: '{"ok":true}' });
  expect(await get('/model/sub/shard.bin')).toEqual({ status: 200, body: 'shard' });
  expect(await get('/model/inner-link.bin')).toEqual({ status: 200, body: 'shard' });
  expect(await get('/model/sub%2Fshard.bin')).toEqual({ status: 200, body: 'shard' });
});

test.each([
  ['a symlink to a file outside', '/model/link.json'],
  ['a file under a symlinked directory outside', '/model/linked-dir/secret.txt'],
  ['a symlink to /dev/zero', '/model/zero.bin'],
  ['a FIFO', '/model/fifo.bin'],
  ['a directory', '/model/sub'],
  ['a missing file', '/model/nope.bin'],
  ['percent-encoded ../', '/model/%2e%2e/next-to-model.txt'],
  ['percent-encoded ../ with encoded slashes', '/model/..%2f..%2fnext-to-model.txt'],
  ['../ in the raw path', '/model/../../next-to-model.txt'],
  ['a backslash climb', '/model/..%5cnext-to-model.txt'],
])('%s: 404, nothing of it disclosed', async (_name, path) => {
  const r = await get(path);
  expect(r.status).toBe(404);
  expect(r.body).toBe('not found\n');
});

test.each([
  ['a malformed percent-escape', '/model/%E0%A4%A'],
  ['a lone %', '/%'],
  ['an encoded NUL', '/model/model.json%00.png'],
])('%s: 400, and the server stays up', async (_name, path) => {
  expect((await get(path)).status).toBe(400);
  expect(await get('/model/model.json')).toEqual({ status: 200, body: '{"ok":true}' });
});

test('other methods: 405; HEAD: headers only', async () => {
  expect((await get('/model/model.json', 'POST')).status).toBe(405);
  expect(await get('/model/model.json', 'HEAD')).toEqual({ status: 200, body: '' });
});

test.each([
  ['--port abc', ['--model', '.', '--port', 'abc'], 'serve.mjs: --port must be an integer from 0 to 65535, got "abc"'],
  ['--port 70000', ['--model', '.', '--port', '70000'], 'serve.mjs: --port must be an integer from 0 to 65535, got "70000"'],
  ['no --model', ['--port', '8080'], 'serve.mjs: usage: node serve.mjs --model <model-dir> [--port 8080] [--dist <dir>]'],
  ['--model with no value', ['--model'], 'serve.mjs: --model needs a value; usage: node serve.mjs --model <model-dir> [--port 8080] [--dist <dir>]'],
  ['a model directory that does not exist', ['--model', '/nonexistent-model-dir', '--dist', '.'], 'serve.mjs: --model /nonexistent-model-dir: not a directory'],
  ['an unknown argument', ['--modle', '.'], 'serve.mjs: unknown argument "--modle"; usage: node serve.mjs --model <model-dir> [--port 8080] [--dist <dir>]'],
])('the command line: %s gets one line and exit 2', (_name, args, line) => {
  const r = spawnSync(process.execPath, [SERVE, ...args], { encoding: 'utf8', timeout: 10_000 });
  expect(r.status).toBe(2);
  expect(r.stderr).toBe(`${line}\n`);
});
