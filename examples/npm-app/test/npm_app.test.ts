/**
 * The published packages in an app of their own, outside the repository: every workspace package
 * packed once (`npm pack`), then one app per tfjs version at the ends of the supported range
 * (TFJS_OLDEST and the workspace's own, newest tfjs) installs them from the tarballs next to that
 * tfjs (npm cache first). In each app, examples/npm-app/check.mjs runs the quantized fixture with
 * plain `tf.loadGraphModel` after `import '@tfjs-mbq/ops'`, answers with `loadVlm()`, and converts
 * the float fixture; results must match the repository's own run. The newest app also checks
 * CommonJS require(), TypeScript under node16/bundler/node10 resolution, and plain esbuild, Vite
 * and webpack browser builds (test/bundlers.ts), each answering in headless chromium as the
 * repository does. One more app on a tfjs just below the range shows the refusal at import.
 * A jest test rather than a CI step so it runs in `npm test` like every other check; about
 * 2.5 minutes on 2 cores with a warm npm cache (three installs, three short Node runs, three builds).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { Jimp } from 'jimp';
import { chromium, type Browser } from 'playwright-core';
import { initBackend, loadVlm, toPixelValues } from '@tfjs-mbq/runtime';
import { convertFixture, FIXTURE_CALIB, FIXTURE_EVAL, FIXTURE_MODEL } from '../../../packages/runtime/test/helpers/convert_fixture.js';
import { TFJS_OLDEST, TFJS_PEER_RANGE, WEBGPU_OLDEST_TFJS } from '../../../packages/ops/src/peer_versions.js';
import { answerInBrowser, bundle, BUNDLER_VERSIONS, BUNDLERS, NODE_ONLY, type Bundle, type Bundler } from './bundlers.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, '../../..');
const APP_SRC = resolve(here, '..');
const NEWEST = (JSON.parse(await readFile(join(ROOT, 'node_modules/@tensorflow/tfjs-core/package.json'), 'utf8')) as { version: string }).version;
const BELOW_RANGE = '4.5.0';
const TFJS_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-converter', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu'];
const QUESTION = 'what color is the object at the bottom right ?';
const IMAGE = join(FIXTURE_EVAL, '0000.png');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (.ci/install-system.sh)`);
/** Same prompt ids as check.mjs: BOS, the image tokens, five word ids. */
const promptIds = (mbq: { bosTokenId: number; imageTokenCount: number; imageTokenId: number }): number[] =>
  [mbq.bosTokenId, ...new Array<number>(mbq.imageTokenCount).fill(mbq.imageTokenId), 5, 6, 7, 8, 9];

interface Tarballs { [name: string]: string }
interface AppHelpers {
  packWorkspaces(dest: string): Promise<Tarballs>;
  installApp(dir: string, o: { tarballs: Tarballs; ours: string[]; dependencies?: Record<string, string>; npmArgs?: string[] }): Promise<string>;
  copiesOf(dir: string, name: string): Promise<string[]>;
}
interface CheckResult {
  versions: { core: string; converter: string };
  backends: Record<'cpu' | 'wasm', { active: string; lastLogits: number[]; answer: string; vlmBackend: string; decoding: string }>;
  converted: { shard: string };
  webgpuWithoutDawn: string;
}

const exec = promisify(execFile);
/** Runs node in the app with a clean environment (no jest NODE_OPTIONS); returns stdout and stderr even on failure. */
async function nodeIn(dir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, args, { cwd: dir, env: { ...process.env, NODE_OPTIONS: '' }, maxBuffer: 16 << 20, timeout: 180_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

let work: string;
let app: AppHelpers;
let tarballs: Tarballs;
let modelDir: string;
let expectedShard: string;
const reference: Record<'cpu' | 'wasm', { lastLogits: number[]; answer: string }> = {} as never;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mbq-npm-app-'));
  app = (await import(join(APP_SRC, 'install.mjs'))) as AppHelpers;
  tarballs = await app.packWorkspaces(join(work, 'pack'));
  // The repository's own conversion, with the arguments check.mjs gives convert().
  modelDir = (await convertFixture(join(work, 'model'), { wBits: 4, samples: 4, seed: 0 })).dir;
  const { createHash } = await import('node:crypto');
  expectedShard = createHash('sha256').update(await readFile(join(modelDir, 'group1-shard1of1.bin'))).digest('hex');
  // The repository's own run of what check.mjs does (workspace sources, tfjs NEWEST).
  const mbq = JSON.parse(await readFile(join(modelDir, 'mbq.json'), 'utf8')) as { bosTokenId: number; imageTokenCount: number; imageTokenId: number; imageSize: [number, number] };
  const json = JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8')) as { modelTopology: object; weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }> };
  const shard = await readFile(join(modelDir, 'group1-shard1of1.bin'));
  const image = await Jimp.read(IMAGE);
  const ids = promptIds(mbq);
  for (const backend of ['cpu', 'wasm'] as const) {
    await initBackend(backend);
    const graph = await loadGraphModel({ load: async () => ({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: new Uint8Array(shard).buffer }) });
    const pixels = toPixelValues(image, mbq.imageSize);
    const input = tf.tensor2d([ids], [1, ids.length], 'int32');
    const logits = graph.execute({ pixel_values: pixels, input_ids: input }) as tf.Tensor;
    const last = Array.from(await tf.slice(logits, [0, ids.length - 1, 0], [1, 1, -1]).data());
    tf.dispose([pixels, input, logits]);
    graph.dispose();
    const vlm = await loadVlm(modelDir, { backend });
    reference[backend] = { lastLogits: last, answer: await vlm.answer(image, QUESTION) };
    vlm.dispose();
  }
}, 400_000);

afterAll(async () => { if (work) await rm(work, { recursive: true, force: true }); });

describe.each([TFJS_OLDEST, NEWEST])('an app on tfjs %s, installed from the packed tarballs', (version) => {
  let dir: string;
  let result: CheckResult;
  let stderr: string;

  beforeAll(async () => {
    dir = join(work, `app-${version}`);
    await app.installApp(dir, {
      tarballs,
      ours: ['@tfjs-mbq/runtime', '@tfjs-mbq/converter'],
      // @types/node: the converter is a Node package and its typings use Node's types; @types/pngjs:
      // its typings include jimp's, which import pngjs.
      dependencies: { ...Object.fromEntries(TFJS_PACKAGES.map((p) => [p, version])), jimp: '^1.6.0', '@types/node': '^20.0.0', '@types/pngjs': '^6.0.0',
        ...(version === NEWEST ? BUNDLER_VERSIONS : {}) },
    });
    await copyFile(join(APP_SRC, 'check.mjs'), join(dir, 'check.mjs'));
    const run = await nodeIn(dir, ['check.mjs', modelDir, FIXTURE_MODEL, FIXTURE_CALIB, IMAGE, QUESTION, dir]);
    if (run.code !== 0) throw new Error(`check.mjs on tfjs ${version} failed (exit ${run.code}):\n${run.stderr}`);
    result = JSON.parse(run.stdout.trim().split('\n').pop()!) as CheckResult;
    stderr = run.stderr;
  }, 400_000);

  it('has one copy of each tfjs package and of @tfjs-mbq/ops, at the app\'s version, and no Dawn', async () => {
    for (const name of TFJS_PACKAGES) {
      const copies = await app.copiesOf(dir, name);
      expect(copies).toEqual([join(dir, 'node_modules', name)]);
      const { version: v } = JSON.parse(await readFile(join(copies[0]!, 'package.json'), 'utf8')) as { version: string };
      expect(`${name}@${v}`).toBe(`${name}@${version}`);
    }
    expect(await app.copiesOf(dir, '@tfjs-mbq/ops')).toEqual([join(dir, 'node_modules/@tfjs-mbq/ops')]);
    expect(await app.copiesOf(dir, 'webgpu')).toEqual([]);
    expect(result.versions).toEqual({ core: version, converter: version });
  });

  it.each(['cpu', 'wasm'] as const)('tf.loadGraphModel runs the MbqQuantizedMatMul graph on %s as the repository does', (backend) => {
    const got = result.backends[backend];
    expect(got.active).toBe(backend);
    const ref = reference[backend].lastLogits;
    expect(got.lastLogits).toHaveLength(ref.length);
    // Same kernels and weights; float32 sums may differ in order between tfjs versions.
    const scale = Math.max(...ref.map(Math.abs));
    const worst = Math.max(...ref.map((r, i) => Math.abs(r - got.lastLogits[i]!)));
    expect(worst).toBeLessThanOrEqual(1e-4 * scale);
  });

  it.each(['cpu', 'wasm'] as const)('loadVlm answers on %s as the repository does, with the KV cache', (backend) => {
    const got = result.backends[backend];
    expect(got).toMatchObject({ answer: reference[backend].answer, vlmBackend: backend, decoding: 'kv-cache' });
    expect(got.answer).not.toBe('');
  });

  it('converts the float fixture to the same bytes as the repository', () => {
    expect(result.converted.shard).toBe(expectedShard);
  });

  it('says in one line what WebGPU needs', () => {
    expect(result.webgpuWithoutDawn).toBe(version === NEWEST
      ? "WebGPU in Node needs the optional package 'webgpu' (Dawn, about 130 MB): npm install webgpu@^0.6.2, or use the wasm or cpu backend"
      : `WebGPU needs tfjs ${WEBGPU_OLDEST_TFJS} or newer; this app has @tensorflow/tfjs-core ${version}, whose WebGPU backend calls adapter.requestAdapterInfo(), removed from Dawn and Chrome 131+ (use the wasm or cpu backend, or upgrade tfjs)`);
  });

  it('registers every kernel once: no "already registered" warnings', () => {
    expect(stderr).not.toMatch(/already registered|already been set|Overwriting/i);
  });
});

describe(`the newest app (tfjs ${NEWEST})`, () => {
  const dir = (): string => join(work, `app-${NEWEST}`);

  it('CommonJS: require() of the ESM-only packages works through Node\'s require(esm) (Node >= 20.19)', async () => {
    const run = await nodeIn(dir(), ['-e', "const r = require('@tfjs-mbq/runtime'); const o = require('@tfjs-mbq/ops/backends'); console.log(typeof r.loadVlm, typeof o.initBackend)"]);
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    if (major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19)) {
      expect(run.stdout.trim()).toBe('function function');
    } else {
      expect(run.stderr).toMatch(/ERR_REQUIRE_ESM/); // the error README's CommonJS note names
    }
  });

  const resolutions = {
    node16: { module: 'node16', moduleResolution: 'node16' },
    bundler: { module: 'esnext', moduleResolution: 'bundler' },
    node10: { module: 'commonjs', moduleResolution: 'node10' },
  } as const;
  it.each([
    ['app_types.ts', 'node16'], ['app_types.ts', 'bundler'], ['app_types.ts', 'node10'],
    ['app_types_converter.ts', 'node16'], ['app_types_converter.ts', 'bundler'],
  ] as const)('TypeScript type-checks %s under moduleResolution %s (strict, with lib checks)', async (file, resolution) => {
    await copyFile(join(APP_SRC, file), join(dir(), file));
    const tsconfig = join(dir(), `tsconfig.${file}.${resolution}.json`);
    await writeFile(tsconfig, JSON.stringify({
      compilerOptions: { ...resolutions[resolution], target: 'es2022', lib: ['es2022', 'dom'], strict: true, noEmit: true, skipLibCheck: false,
        // Named: tfjs-core's typings use the global `Long` of @types/long without referencing it.
        types: ['node', 'long'] },
      files: [file],
    }));
    const run = await nodeIn(dir(), [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig]);
    expect(run.stdout + run.stderr).toBe('');
    expect(run.code).toBe(0);
  });

  const bundles: Partial<Record<Bundler, Bundle>> = {};
  it.each(BUNDLERS)('bundles for the browser with a plain %s build, without Node modules or Dawn', async (bundler) => {
    const b = await bundle(bundler, dir());
    bundles[bundler] = b;
    expect(b.warnings).toEqual([]);
    expect(b.modules.filter((m) => NODE_ONLY.test(m))).toEqual([]);
    // Node modules left out of the build only where tfjs's own "browser" fields say so.
    expect(b.standIns.length).toBeGreaterThan(0);
    expect(b.standIns.filter((p) => !/node_modules\/(@tensorflow\/tfjs-(core|backend-wasm)|seedrandom)\//.test(`${p}/`))).toEqual([]);
    // Ours, with the browser side of each package.json "imports" entry.
    expect(b.modules).toEqual(expect.arrayContaining(['runtime/dist/index.js', 'runtime/dist/local_source_browser.js', 'ops/dist/index.js', 'ops/dist/backends/navigator_gpu_browser.js']
      .map((f) => expect.stringContaining(`node_modules/@tfjs-mbq/${f}`))));
  }, 300_000);

  describe('in headless chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      if (haveChromium) browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    });
    afterAll(async () => { await browser?.close(); });

    (haveChromium ? it : it.skip).each(BUNDLERS)('the %s build answers on wasm as the repository does', async (bundler) => {
      const b = bundles[bundler];
      if (!b) throw new Error(`no ${bundler} build (its test above failed)`);
      const got = await answerInBrowser(browser, dir(), b, { modelDir, image: IMAGE, question: QUESTION });
      expect(got).toEqual({ backend: 'wasm', decoding: 'kv-cache', answer: reference.wasm.answer });
    }, 120_000);
  });
});

describe(`an app on tfjs ${BELOW_RANGE}, below ${TFJS_PEER_RANGE}`, () => {
  it('npm refuses the install, and forced anyway, the import names the version and the range', async () => {
    const dir = join(work, `app-${BELOW_RANGE}`);
    const dependencies = { '@tensorflow/tfjs-core': BELOW_RANGE, '@tensorflow/tfjs-converter': BELOW_RANGE };
    await expect(app.installApp(dir, { tarballs, ours: ['@tfjs-mbq/ops'], dependencies })).rejects.toThrow(/ERESOLVE[\s\S]*Found: @tensorflow\/tfjs-core@4\.5\.0[\s\S]*peer @tensorflow\/tfjs-backend-cpu@"\^4\.6\.0" from @tfjs-mbq\/ops/);
    await app.installApp(dir, { tarballs, ours: ['@tfjs-mbq/ops'], dependencies, npmArgs: ['--legacy-peer-deps'] });
    const run = await nodeIn(dir, ['--input-type=module', '-e', "import '@tfjs-mbq/ops';"]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`Error: @tfjs-mbq needs @tensorflow/tfjs-core ${TFJS_PEER_RANGE} (${TFJS_OLDEST} or a newer 4.x); this app has ${BELOW_RANGE}:`);
  }, 300_000);
});
