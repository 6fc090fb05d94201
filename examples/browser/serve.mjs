// Serves the built page and a model directory on 127.0.0.1:
//   node examples/browser/serve.mjs --model <converted-model-dir> [--port 8080] [--dist <dir>]
// The page is at http://127.0.0.1:<port>/ and reads the model from /model/.
// Only regular files inside the two roots are served, real paths checked (a symbolic link that
// leads out is refused); a malformed URL gets 400 and the server stays up.
import { constants, createReadStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json',
  '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.bin': 'application/octet-stream',
};

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

const inside = (root, p) => { const rel = relative(root, p); return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel); };

/**
 * An open handle on the regular file `urlPath` names under `root` (its real path), or an
 * HttpError: 400 for a malformed percent-escape, 404 for anything outside, missing or not a file.
 */
async function openUnder(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    throw new HttpError(400, 'malformed percent-escape in the path');
  }
  if (decoded.includes('\0')) throw new HttpError(400, 'NUL in the path');
  const lexical = resolve(root, `.${decoded.startsWith('/') ? '' : '/'}${decoded}`);
  if (!inside(root, lexical)) throw new HttpError(404, 'not found');
  let real;
  try {
    real = await realpath(lexical);
  } catch {
    throw new HttpError(404, 'not found');
  }
  if (!inside(await realpath(root), real)) throw new HttpError(404, 'not found');
  // Non-blocking, then checked on the handle: a FIFO or device is never read, nor swapped in.
  const handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => { throw new HttpError(404, 'not found'); });
  const st = await handle.stat();
  if (!st.isFile()) {
    await handle.close();
    throw new HttpError(404, 'not found');
  }
  return { handle, size: st.size, type: TYPES[extname(real)] ?? 'application/octet-stream' };
}

/** Starts the server; resolves to { url, close() }. Port 0 picks a free port. */
export function startServer({ dist, modelDir, port = 0, host = '127.0.0.1' }) {
  const distRoot = resolve(dist);
  const modelRoot = resolve(modelDir);
  const server = createServer(async (req, res) => {
    let path = '?';
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
      path = new URL(req.url ?? '/', 'http://x').pathname;
      const [root, rel] = path.startsWith('/model/') ? [modelRoot, path.slice('/model/'.length)] : [distRoot, path === '/' ? 'index.html' : path.slice(1)];
      const file = await openUnder(root, rel);
      res.writeHead(200, { 'content-type': file.type, 'content-length': file.size, 'cache-control': 'no-store' });
      if (req.method === 'HEAD') { await file.handle.close(); res.end(); return; }
      const body = createReadStream('', { fd: file.handle, start: 0, end: Math.max(0, file.size - 1) });
      body.on('error', () => res.destroy());
      body.pipe(res);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 400;
      if (res.headersSent) { res.destroy(); return; }
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${status === 404 ? 'not found' : e instanceof HttpError ? e.message : 'bad request'}\n`);
    }
  });
  // A malformed request line is answered 400 by Node; a client error never stops the server.
  server.on('clientError', (_err, socket) => { if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'); else socket.destroy(); });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const addr = server.address();
      ok({ url: `http://${host}:${addr.port}/`, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

/** Command-line use: one line and exit code 2 for bad arguments, 1 when the server cannot start. */
async function cli(argv) {
  const usage = 'usage: node serve.mjs --model <model-dir> [--port 8080] [--dist <dir>]';
  const fail = (code, msg) => { console.error(`serve.mjs: ${msg}`); process.exit(code); };
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.startsWith('--') ? argv[i].slice(2) : undefined;
    if (!name || !['model', 'port', 'dist'].includes(name)) fail(2, `unknown argument ${JSON.stringify(argv[i])}; ${usage}`);
    if (argv[i + 1] === undefined || argv[i + 1].startsWith('--')) fail(2, `--${name} needs a value; ${usage}`);
    if (name in args) fail(2, `--${name} given twice`);
    args[name] = argv[i + 1];
  }
  if (!args.model) fail(2, usage);
  const port = args.port ?? '8080';
  if (!/^\d+$/.test(port) || Number(port) > 65535) fail(2, `--port must be an integer from 0 to 65535, got ${JSON.stringify(port)}`);
  const dist = args.dist ?? join(dirname(fileURLToPath(import.meta.url)), 'dist');
  for (const [name, dir] of [['--model', args.model], ['--dist', dist]]) {
    const st = await stat(dir).catch(() => null);
    if (!st?.isDirectory()) fail(2, `${name} ${dir}: not a directory${name === '--dist' ? ' (build the page first: node examples/browser/build.mjs)' : ''}`);
  }
  try {
    const { url } = await startServer({ dist, modelDir: args.model, port: Number(port) });
    console.log(`serving ${url} (model: ${resolve(args.model)})`);
  } catch (e) {
    fail(1, `cannot listen on 127.0.0.1:${port} (${e.code ?? e.message})`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await cli(process.argv.slice(2));
