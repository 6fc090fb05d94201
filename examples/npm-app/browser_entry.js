// What an app imports for in-browser use, bundled by test/npm_app.test.ts from the packed packages
// with plain esbuild, Vite (index.html) and webpack (webpack.config.js) builds. Plain JavaScript so
// that webpack needs no loader. Served next to tfjs-backend-wasm's .wasm files (wasm/), a converted
// model (/model/) and scene.png, it answers ?question= about the picture on wasm and puts the
// result on <body data-result> (or the error on data-error) for the test to read.
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerMbqOps } from '@tfjs-mbq/ops';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { loadVlm } from '@tfjs-mbq/runtime';

try {
  setWasmPaths(new URL('wasm/', location.href).href);
  registerMbqOps();
  const report = await initBackend('wasm');
  // A path, as tfjs users pass to tf.loadGraphModel: resolved against the page.
  const vlm = await loadVlm('/model/model.json', { backend: 'current' });
  const image = await createImageBitmap(await (await fetch('scene.png')).blob());
  const answer = await vlm.answer(image, new URLSearchParams(location.search).get('question') ?? '');
  document.body.dataset.result = JSON.stringify({ backend: report.backend, decoding: vlm.decoding, answer });
} catch (e) {
  document.body.dataset.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
}
