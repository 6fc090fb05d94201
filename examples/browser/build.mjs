// Bundles the page with esbuild into examples/browser/dist (index.html, main.js, style.css, wasm/).
//   node examples/browser/build.mjs [--out <dir>]
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

/** Builds the page into `outDir`; workspace packages are bundled from their TypeScript sources. */
export async function buildPage(outDir = join(here, 'dist')) {
  await mkdir(join(outDir, 'wasm'), { recursive: true });
  await esbuild.build({
    entryPoints: [join(here, 'src/main.ts')],
    outfile: join(outDir, 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
    alias: {
      '@tfjs-mbq/runtime': join(root, 'packages/runtime/src/index.ts'),
      '@tfjs-mbq/format': join(root, 'packages/format/src/index.ts'),
      '@tfjs-mbq/ops/backends': join(root, 'packages/ops/src/backends/index.ts'),
      '@tfjs-mbq/ops': join(root, 'packages/ops/src/index.ts'),
    },
    // Node-only code paths, loaded lazily and never reached in a browser.
    external: ['webgpu', 'node:*', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
  });
  for (const f of ['index.html', 'style.css']) await copyFile(join(here, f), join(outDir, f));
  const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  for (const f of await readdir(join(wasmDir, 'dist'))) {
    if (f.endsWith('.wasm')) await copyFile(join(wasmDir, 'dist', f), join(outDir, 'wasm', f));
  }
  return outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  console.log(`built ${await buildPage(i > 0 ? resolve(process.argv[i + 1]) : undefined)}`);
}
