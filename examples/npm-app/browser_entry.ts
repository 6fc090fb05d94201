// Bundled for the browser by test/npm_app.test.ts with a plain `esbuild --bundle --platform=browser`
// from the packed packages: everything an app imports for in-browser use.
import '@tensorflow/tfjs-backend-wasm';
import { registerMbqOps } from '@tfjs-mbq/ops';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { loadVlm } from '@tfjs-mbq/runtime';

registerMbqOps();
const report = await initBackend('auto');
const vlm = await loadVlm('/models/tiny-vlm/model.json', { backend: 'current' });
document.body.textContent = `${report.backend}: ${vlm.decoding}`;
