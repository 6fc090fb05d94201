// Bundles the page with esbuild into examples/browser/dist (index.html, main.js, worker.js, style.css, wasm/).
//   node examples/browser/build.mjs [--out <dir>]
// A plain browser build, no aliases or externals: the packages resolve as an app's would (here the
// workspace's built packages; in the page test, the packed tarballs installed into a temp app).
import { copyFile, cp, mkdir, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Builds the page into `outDir`. With `appDir` (a directory whose node_modules holds the
 * packages, e.g. installed from `npm pack` tarballs) the page's sources are copied there and
 * bundled against those packages instead of the workspace's.
 */
export async function buildPage(outDir = join(here, 'dist'), { appDir } = {}) {
  await mkdir(join(outDir, 'wasm'), { recursive: true });
  const srcDir = appDir ? join(appDir, 'src') : join(here, 'src');
  if (appDir) await cp(join(here, 'src'), srcDir, { recursive: true });
  await esbuild.build({
    // The page's script (UI only) and its module worker (the model).
    entryPoints: [join(srcDir, 'main.ts'), join(srcDir, 'worker.ts')],
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'style.css']) await copyFile(join(here, f), join(outDir, f));
  const wasmPkg = createRequire(join(srcDir, 'main.ts')).resolve('@tensorflow/tfjs-backend-wasm/package.json');
  const wasmDir = join(dirname(wasmPkg), 'dist');
  for (const f of await readdir(wasmDir)) {
    if (f.endsWith('.wasm')) await copyFile(join(wasmDir, f), join(outDir, 'wasm', f));
  }
  return outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  console.log(`built ${await buildPage(i > 0 ? resolve(process.argv[i + 1]) : undefined)}`);
}
