/**
 * End to end: builds the page with esbuild from the published packages (every workspace package
 * packed with `npm pack`, installed from the tarballs into an app outside the repository, so a
 * browser build of what users install is what runs here), serves it and a converted fixture model on 127.0.0.1,
 * and drives it in headless Debian chromium (playwright-core, executablePath /usr/bin/chromium, no
 * browser download). Picks a shapes-vqa PNG, asks its question, and checks the answer against the
 * runtime in Node; asserts which backend ran. The model is fixtures/tiny-vlm converted by the
 * converter itself (`tfjs-mbq convert`, MBQ, 4-bit weights, 4 calibration samples) into a temp dir.
 * Also (issue 14 §3, §4): load progress in bytes, the answer streamed token by token, Stop, the
 * second visit loading from the Cache API without a request for the model, and no horizontal
 * overflow at 390 px; the model runs in a Web Worker (the page's bundle has no tfjs).
 */
import { existsSync, statSync } from 'node:fs';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { Jimp } from 'jimp';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { loadVlm } from '@tfjs-mbq/runtime';
import { convertFixture } from '../../../packages/runtime/test/helpers/convert_fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const EVAL = join(root, 'fixtures/shapes-vqa/eval');
const item = readFileSync(join(EVAL, 'manifest.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l) as { image: string; question?: string; answer: string }).find((x) => x.question)!;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (.ci/install-system.sh)`);
const describeBrowser = haveChromium ? describe : describe.skip;

interface Served { url: string; close: () => Promise<void> }

describeBrowser('examples/browser in headless chromium', () => {
  let dir: string;
  let server: Served;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  const modelRequests: string[] = [];
  let modelBytes = 0;
  // As the page writes sizes.
  const mib = (n: number): string => (n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mbq-browser-'));
    await convertFixture(join(dir, 'model'), { wBits: 4 });
    const manifest = JSON.parse(readFileSync(join(dir, 'model/model.json'), 'utf8')) as { weightsManifest: Array<{ paths: string[] }> };
    for (const p of manifest.weightsManifest.flatMap((g) => g.paths)) modelBytes += (await stat(join(dir, 'model', p))).size;
    await copyFile(join(EVAL, item.image), join(dir, 'scene.png'));
    const { buildPage } = (await import(resolve(here, '../build.mjs'))) as { buildPage: (out: string, o: { appDir: string }) => Promise<string> };
    const { packWorkspaces, installApp } = (await import(resolve(here, '../../npm-app/install.mjs'))) as {
      packWorkspaces: (dest: string) => Promise<Record<string, string>>;
      installApp: (dir: string, o: { tarballs: Record<string, string>; ours: string[]; dependencies: Record<string, string> }) => Promise<string>;
    };
    const pagePackage = JSON.parse(readFileSync(resolve(here, '../package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const appDir = await installApp(join(dir, 'app'), {
      tarballs: await packWorkspaces(join(dir, 'pack')),
      ours: Object.keys(pagePackage.dependencies).filter((n) => n.startsWith('@tfjs-mbq/')),
      dependencies: Object.fromEntries(Object.entries(pagePackage.dependencies).filter(([n]) => !n.startsWith('@tfjs-mbq/'))),
    });
    const { startServer } = (await import(resolve(here, '../serve.mjs'))) as { startServer: (o: { dist: string; modelDir: string }) => Promise<Served> };
    await buildPage(join(dir, 'dist'), { appDir });
    server = await startServer({ dist: join(dir, 'dist'), modelDir: join(dir, 'model') });
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
      viewport: { width: 920, height: 640 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
    page.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/model/')) modelRequests.push(new URL(r.url()).pathname); });
  }, 400_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loads the model on webgpu if the browser has a hardware adapter, else on wasm', async () => {
    await page.goto(server.url);
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 90_000 });
    expect(await page.textContent('#status')).toBe(`Model ready (${mib(modelBytes)}).`);
    // The progress bar ended at the model's weight bytes; the files went into the Cache API.
    expect(await page.evaluate(() => { const p = document.getElementById('load-progress') as HTMLProgressElement; return [p.value, p.max]; })).toEqual([modelBytes, modelBytes]);
    expect(modelRequests).toEqual(expect.arrayContaining(['/model/model.json', '/model/mbq.json', '/model/tokenizer.json']));
    await page.waitForFunction(() => document.getElementById('cached')?.textContent !== '–');
    expect(await page.textContent('#cached')).toMatch(/^[\d.]+ (MiB|KiB) in \d+ files$/);
    const adapter = await page.evaluate(async () => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: { description?: string; vendor?: string; architecture?: string } } | null> } }).gpu;
      const a = gpu ? await gpu.requestAdapter() : null;
      return a ? JSON.stringify(a.info ?? {}) : null;
    });
    const hardware = adapter !== null && !/swiftshader|llvmpipe|lavapipe|software|cpu/i.test(adapter);
    expect(await page.textContent('#backend')).toBe(hardware ? 'webgpu' : 'wasm');
    expect(await page.textContent('#decoding')).toBe('kv-cache');
    // The model runs in the page's Web Worker: the page's own bundle holds no tfjs.
    expect(page.workers().map((w) => new URL(w.url()).pathname)).toEqual(['/worker.js']);
    expect(statSync(join(dir, 'dist/main.js')).size).toBeLessThan(64 * 1024);
    expect(statSync(join(dir, 'dist/worker.js')).size).toBeGreaterThan(256 * 1024);
  });

  it('answers a question about a picked PNG like the runtime in Node does', async () => {
    await page.setInputFiles('#file', join(dir, 'scene.png'));
    await page.waitForFunction(() => document.getElementById('source')?.textContent?.includes('scene.png'));
    await page.fill('#question', item.question!);
    // Record what #answer shows while the answer streams in.
    await page.evaluate(() => {
      const el = document.getElementById('answer')!;
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => { if (seen[seen.length - 1] !== el.textContent) seen.push(el.textContent ?? ''); }).observe(el, { childList: true, characterData: true, subtree: true });
    });
    await page.click('#ask');
    await page.waitForSelector('body[data-state="answered"]', { timeout: 60_000 });
    const answer = (await page.textContent('#answer'))?.trim();
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    // '…', then the answer word by word (the fixture's tokenizer is word-level).
    const words = (answer ?? '').split(' ');
    expect(seen).toEqual(['…', ...words.map((_, i) => words.slice(0, i + 1).join(' '))]);

    // The reference loads the same model over HTTP from the same server (Node's fetch path).
    const vlm = await loadVlm(`${server.url}model/`, { backend: 'wasm' });
    const expected = await vlm.answer(await Jimp.read(join(dir, 'scene.png')), item.question!, { maxNewTokens: 16 });
    vlm.dispose();
    expect(expected).toMatch(/^[a-z]+( [a-z]+)?$/); // an answer of the fixture's answer vocabulary
    expect(answer).toBe(expected);
    if (process.env.MBQ_SCREENSHOT) await page.screenshot({ path: process.env.MBQ_SCREENSHOT });
  });

  it('answers about a drawing on the canvas (brush and shape stamps)', async () => {
    await page.click('#clear');
    const box = (await page.locator('#canvas').boundingBox())!;
    await page.mouse.move(box.x + 60, box.y + 60);
    await page.mouse.down();
    await page.mouse.move(box.x + 200, box.y + 180, { steps: 8 });
    await page.mouse.up();
    expect(await page.textContent('#source')).toBe('Drawing on the canvas.');
    // The canvas holds the model's 64x64 pixels; the red stroke is on it.
    const red = (): Promise<number> => page.evaluate(() => {
      const c = document.getElementById('canvas') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i]! > 150 && d[i + 1]! < 100) n++;
      return n;
    });
    expect(await page.evaluate(() => (document.getElementById('canvas') as HTMLCanvasElement).width)).toBe(64);
    expect(await red()).toBeGreaterThan(40);
    // Stamp a large red circle at the top left and a small blue square at the bottom right.
    await page.click('#clear');
    await page.click('#tool button[data-tool="circle"]');
    await page.check('#large');
    await page.mouse.click(box.x + box.width / 4, box.y + box.height / 4);
    await page.click('#palette button:nth-child(3)');
    await page.click('#tool button[data-tool="square"]');
    await page.uncheck('#large');
    await page.mouse.click(box.x + (3 * box.width) / 4, box.y + (3 * box.height) / 4);
    const circle = await red();
    expect(circle).toBeGreaterThan(300); // pi * 12^2 = 452 pixels at 64x64
    expect(circle).toBeLessThan(600);
    await page.fill('#question', 'what color is the object at the top left ?');
    await page.evaluate(() => { document.body.dataset.state = 'ready'; });
    await page.click('#ask');
    await page.waitForSelector('body[data-state="answered"]', { timeout: 60_000 });
    const answer = (await page.textContent('#answer'))?.trim() ?? '';
    expect(answer).toMatch(/^[a-z]+( [a-z]+)?$/);
    if (process.env.MBQ_SCREENSHOT) await page.screenshot({ path: process.env.MBQ_SCREENSHOT.replace(/\.png$/, '-drawn.png') });
    expect(problems).toEqual([]);
  });

  it('a second visit loads from the Cache API (no request for the model); Stop ends a long answer; Forget empties the cache', async () => {
    modelRequests.length = 0;
    await page.goto(`${server.url}?min-new-tokens=48`);
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 90_000 });
    expect(await page.textContent('#status')).toBe(`Model ready (${mib(modelBytes)}).`);
    expect(modelRequests).toEqual([]);
    // The user presses Stop as soon as the first word shows (from the page itself: a click from the
    // test could arrive after the fixture's 48 tokens, which take a few ms each).
    await page.evaluate(() => {
      const answer = document.getElementById('answer')!;
      const stop = document.getElementById('stop') as HTMLButtonElement;
      const o = new MutationObserver(() => {
        if (/^[a-z]/.test(answer.textContent ?? '')) { o.disconnect(); (window as unknown as { stopEnabled: boolean }).stopEnabled = !stop.disabled; stop.click(); }
      });
      o.observe(answer, { childList: true, characterData: true, subtree: true });
    });
    await page.click('#ask');
    await page.waitForSelector('body[data-state="stopped"], body[data-state="answered"]', { timeout: 60_000 });
    expect(await page.evaluate(() => document.body.dataset.state)).toBe('stopped');
    expect(await page.evaluate(() => (window as unknown as { stopEnabled: boolean }).stopEnabled)).toBe(true);
    const stopped = /^Stopped after (\d+) tokens? /.exec((await page.textContent('#timing')) ?? '');
    expect(stopped).not.toBeNull();
    expect(Number(stopped![1])).toBeGreaterThanOrEqual(1);
    expect(Number(stopped![1])).toBeLessThan(48);
    expect(await page.isDisabled('#stop')).toBe(true);
    expect(await page.isDisabled('#ask')).toBe(false);
    await page.click('#forget');
    await page.waitForFunction(() => document.getElementById('cached')?.textContent === 'empty');
    expect(await page.evaluate(async () => (await caches.open('tfjs-mbq-models')).keys().then((k) => k.length))).toBe(0);
    expect(problems).toEqual([]);
  });

  it('has no horizontal overflow at 390 px; a model that cannot load is shown as an error', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(server.url);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 90_000 });
    await page.waitForFunction(() => document.getElementById('cached')?.textContent !== '–');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    if (process.env.MBQ_SCREENSHOT) await page.screenshot({ path: process.env.MBQ_SCREENSHOT.replace(/\.png$/, '-390.png'), fullPage: true });
    await page.goto(`${server.url}?model=./missing/`);
    await page.waitForSelector('body[data-state="error"]', { timeout: 90_000 });
    expect(await page.getAttribute('#status', 'role')).toBe('alert');
    expect(await page.getAttribute('#status', 'class')).toBe('error');
    expect(await page.textContent('#status')).toMatch(/^Could not load the model from .*missing\/: .*model\.json: HTTP 404/);
    // The long error line wraps too.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    problems.length = 0; // the 404 was the point
  });
});
