/**
 * Browser builds of examples/npm-app/browser_entry.js in an installed app (test/npm_app.test.ts),
 * each with the bundler's plain setup: esbuild `--bundle --platform=browser`, `vite build` (the
 * app's index.html, no config file) and the webpack CLI with webpack.config.js (mode production,
 * target web). No aliases, externals, fallbacks or polyfills: what the packages' own package.json
 * conditions give. Then each build runs in headless Debian chromium against a converted model.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import type { Browser } from 'playwright-core';

const APP_SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The files of examples/npm-app that the three builds read, copied into the app. */
const APP_FILES = ['browser_entry.js', 'index.html', 'webpack.config.js'];
/** The bundler packages the app installs next to ours (as its devDependencies would be). */
export const BUNDLER_VERSIONS = { vite: '8.4.0', webpack: '5.112.2', 'webpack-cli': '7.3.1' } as const;
export const BUNDLERS = ['esbuild', 'vite', 'webpack'] as const;
export type Bundler = (typeof BUNDLERS)[number];
/**
 * A module a browser build must not contain: a Node built-in, Dawn (the 'webgpu' package), or the
 * Node-only entries of ours that reach them.
 */
export const NODE_ONLY = /(^|[\0:|])node:|node_modules\/webgpu\/|navigator_gpu_node|local_source_node|@tfjs-mbq\/format\/dist\/node\//;

export interface Bundle {
  /** The directory to serve: the build's index.html and scripts. */
  outDir: string;
  /** Every module the build bundled (paths or the bundler's ids), less the stand-ins. */
  modules: string[];
  /**
   * Where each empty stand-in for a Node module was asked for (the importing file, or its
   * directory for webpack): what a package's own "browser" field maps to false (tfjs-core's
   * node-fetch and util, tfjs-backend-wasm's fs/path/os/worker_threads, seedrandom's crypto).
   */
  standIns: string[];
  /** The bundler's warnings, less its advice on large chunks (a model runtime is large). */
  warnings: string[];
}

const exec = promisify(execFile);
/**
 * Node in the app (a clean environment: no jest NODE_OPTIONS; NO_COLOR, since with CI set the
 * bundlers colour their output, which the warning checks read as text); throws with stderr on failure.
 */
async function node(dir: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await exec(process.execPath, args, { cwd: dir, env: { ...process.env, NODE_OPTIONS: '', NO_COLOR: '1' }, maxBuffer: 64 << 20, timeout: 300_000 });
  } catch (e) {
    const err = e as { message: string; stderr?: string; stdout?: string };
    throw new Error(`${args.slice(0, 2).join(' ')} in ${dir} failed: ${err.message}\n${err.stderr ?? ''}${err.stdout ?? ''}`);
  }
}

const ANSI_ESCAPE = /\u001b\[[0-9;]*m/g;
/** Large-output advice, the only warnings a plain build of a model runtime may give. */
const SIZE_ADVICE = /^(asset size limit|entrypoint size limit|webpack performance recommendations):/;
const VITE_SIZE_ADVICE = /\[plugin builtin:vite-reporter\]\s*\n\(!\) Some chunks are larger than [^\n]*(\n- [^\n]*)*/;

/** An index.html for a build that makes none (no favicon request: its 404 would be a console error). */
const page = (script: string): string => `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><body>${script}\n`;

async function withEsbuild(dir: string): Promise<Bundle> {
  const outDir = join(dir, 'dist-esbuild');
  const built = await esbuild.build({
    entryPoints: [join(dir, 'browser_entry.js')], bundle: true, platform: 'browser', format: 'esm', target: 'es2022',
    outfile: join(outDir, 'app.js'), metafile: true, logLevel: 'silent',
  });
  await writeFile(join(outDir, 'index.html'), page('<script type="module" src="app.js"></script>'));
  const inputs = Object.entries(built.metafile.inputs);
  return {
    outDir,
    modules: inputs.map(([path]) => path).filter((p) => !p.startsWith('(disabled):')),
    standIns: inputs.filter(([, m]) => m.imports.some((i) => i.path.startsWith('(disabled):'))).map(([path]) => path),
    warnings: built.warnings.map((w) => w.text),
  };
}

async function withVite(dir: string): Promise<Bundle> {
  // `vite build --outDir dist-vite` through Vite's own API, to read the module ids of its output;
  // the plugin only records who imports Vite's empty stand-in for Node modules.
  const script = `import { build } from 'vite';
const STAND_IN = '__vite-browser-external';
const standIns = [];
const record = { name: 'record-stand-ins', buildEnd() {
  for (const id of this.getModuleIds()) if (id.startsWith(STAND_IN)) standIns.push(...this.getModuleInfo(id).importers);
} };
const out = await build({ logLevel: 'warn', build: { outDir: 'dist-vite' }, plugins: [record] });
const modules = [out].flat().flatMap((o) => o.output).flatMap((c) => c.moduleIds ?? []).filter((id) => !id.startsWith(STAND_IN));
console.log(JSON.stringify({ modules, standIns }));`;
  const { stdout, stderr } = await node(dir, ['--input-type=module', '-e', script]);
  // Every other line Vite writes at logLevel 'warn' is a warning.
  const warnings = stderr.replace(ANSI_ESCAPE, '').replace(VITE_SIZE_ADVICE, '').split('\n').map((l) => l.trim()).filter(Boolean);
  const { modules, standIns } = JSON.parse(stdout.trim().split('\n').pop()!) as { modules: string[]; standIns: string[] };
  return { outDir: join(dir, 'dist-vite'), modules, standIns, warnings };
}

interface WebpackModule { identifier: string; modules?: WebpackModule[] }
async function withWebpack(dir: string): Promise<Bundle> {
  const outDir = join(dir, 'dist-webpack');
  const statsFile = join(dir, 'webpack-stats.json');
  // A failed build exits non-zero with its errors in the stats file.
  const failed = await node(dir, ['node_modules/webpack-cli/bin/cli.js', '--output-path', outDir, '--json', statsFile]).then(() => null, (e: Error) => e);
  const stats = JSON.parse(await readFile(statsFile, 'utf8').catch(() => { throw failed ?? new Error('webpack wrote no stats'); })) as { errors: Array<{ message: string }>; warnings: Array<{ message: string }>; modules: WebpackModule[] };
  await rm(statsFile);
  if (stats.errors.length || failed) throw new Error(`webpack failed: ${stats.errors.map((e) => e.message).join('\n') || failed?.message}`);
  const ids: string[] = [];
  const walk = (ms: WebpackModule[]): void => ms.forEach((m) => { ids.push(m.identifier); if (m.modules) walk(m.modules); });
  walk(stats.modules);
  // A stand-in's identifier: ignored|<directory of the importer>|<request>.
  const ignored = /^ignored\|(.*)\|[^|]*$/;
  await writeFile(join(outDir, 'index.html'), page('<script src="main.js"></script>'));
  return {
    outDir,
    modules: ids.filter((id) => !ignored.test(id)),
    standIns: ids.flatMap((id) => ignored.exec(id)?.[1] ?? []),
    warnings: stats.warnings.map((w) => w.message).filter((m) => !SIZE_ADVICE.test(m)),
  };
}

const BUILD: Record<Bundler, (dir: string) => Promise<Bundle>> = { esbuild: withEsbuild, vite: withVite, webpack: withWebpack };

/** Copies the entry, Vite's index.html and webpack.config.js into the app `dir` and builds there. */
export async function bundle(bundler: Bundler, dir: string): Promise<Bundle> {
  for (const f of APP_FILES) await copyFile(join(APP_SRC, f), join(dir, f));
  return BUILD[bundler](dir);
}

/** What browser_entry.js puts on <body data-result>. */
export interface PageResult { backend: string; decoding: string; answer: string }

/**
 * Serves `b` (with the app's tfjs-backend-wasm .wasm files under wasm/ and `image` as scene.png)
 * and `modelDir` at /model/ on 127.0.0.1, opens it in `browser` with ?question=, and returns what
 * the page answered; throws with the page's error or console errors.
 */
export async function answerInBrowser(browser: Browser, appDir: string, b: Bundle, o: { modelDir: string; image: string; question: string }): Promise<PageResult> {
  const wasmDir = join(appDir, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  await mkdir(join(b.outDir, 'wasm'), { recursive: true });
  for (const f of await readdir(wasmDir)) if (f.endsWith('.wasm')) await copyFile(join(wasmDir, f), join(b.outDir, 'wasm', f));
  await copyFile(o.image, join(b.outDir, 'scene.png'));
  const { startServer } = (await import(join(APP_SRC, '../browser/serve.mjs'))) as { startServer: (x: { dist: string; modelDir: string }) => Promise<{ url: string; close: () => Promise<void> }> };
  const server = await startServer({ dist: b.outDir, modelDir: o.modelDir });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
    await page.goto(`${server.url}?question=${encodeURIComponent(o.question)}`);
    await page.waitForSelector('body[data-result], body[data-error]', { state: 'attached', timeout: 90_000 });
    const error = await page.getAttribute('body', 'data-error');
    if (error !== null || problems.length) throw new Error(`the page failed: ${error ?? ''}\n${problems.join('\n')}`);
    return JSON.parse((await page.getAttribute('body', 'data-result'))!) as PageResult;
  } finally {
    await context.close();
    await server.close();
  }
}
