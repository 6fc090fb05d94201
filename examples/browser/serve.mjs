// Serves the built page and a model directory on 127.0.0.1:
//   node examples/browser/serve.mjs --model <converted-model-dir> [--port 8080] [--dist <dir>]
// The page is at http://127.0.0.1:<port>/ and reads the model from /model/.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json',
  '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.bin': 'application/octet-stream',
};

/** Resolves `urlPath` under `base`, refusing paths that climb out of it. */
function under(base, urlPath) {
  const p = normalize(join(base, decodeURIComponent(urlPath)));
  return p === base || p.startsWith(base + sep) ? p : null;
}

/** Starts the server; resolves to { url, close() }. Port 0 picks a free port. */
export function startServer({ dist, modelDir, port = 0, host = '127.0.0.1' }) {
  const distRoot = resolve(dist);
  const modelRoot = resolve(modelDir);
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = path.startsWith('/model/') ? under(modelRoot, path.slice('/model/'.length)) : under(distRoot, path === '/' ? 'index.html' : path.slice(1));
    try {
      if (!file || !(await stat(file)).isFile()) throw new Error('not found');
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
    }
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const addr = server.address();
      ok({ url: `http://${host}:${addr.port}/`, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
  const modelDir = arg('model');
  if (!modelDir) { console.error('usage: node serve.mjs --model <model-dir> [--port 8080] [--dist <dir>]'); process.exit(2); }
  const here = dirname(fileURLToPath(import.meta.url));
  const { url } = await startServer({ dist: arg('dist', join(here, 'dist')), modelDir, port: Number(arg('port', '8080')) });
  console.log(`serving ${url} (model: ${resolve(modelDir)})`);
}
