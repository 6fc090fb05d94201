/**
 * Issue 15 §2-§4 for the files a manifest names: calibration and evaluation images must be
 * regular files (a FIFO or a device is refused at once, nothing blocks), inside their directory
 * once symbolic links are resolved, and within IMAGE_LIMITS by their header (nothing decoded).
 * Each case gets one message naming the file (or the manifest line) and the problem.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCalibration, loadTokenizer, loadModelDir, ConversionError, type LoadedModel } from '@tfjs-mbq/converter';
import { loadImagePixels, readManifest } from '@tfjs-mbq/eval';
import { pngDeclaring, jpegDeclaring } from '../../format/test/helpers/crafted_images.js';

const ROOT = process.cwd();
const FIXTURE = join(ROOT, 'fixtures/tiny-vlm');
const GOOD_PNG = join(ROOT, 'fixtures/shapes-vqa/calib/000.png');
const roots: string[] = [];
let model: LoadedModel;

beforeAll(async () => { model = await loadModelDir(FIXTURE); });
afterAll(() => { for (const d of roots) rmSync(d, { recursive: true, force: true }); });

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'mbq-hostile-'));
  roots.push(d);
  return d;
}

/** A data directory whose manifest names `image` (made by `make`, relative to the directory), next to an outside directory. */
function dataDir(image: string, make: (dir: string, outside: string) => void): { dir: string; outside: string } {
  const top = scratch();
  const dir = join(top, 'data');
  const outside = join(top, 'outside');
  mkdirSync(dir);
  mkdirSync(outside);
  copyFileSync(GOOD_PNG, join(outside, 'secret.png'));
  writeFileSync(join(outside, 'secret.txt'), 'x'.repeat(12345));
  make(dir, outside);
  writeFileSync(join(dir, 'manifest.jsonl'), `${JSON.stringify({ image, question: 'what color is the circle ?', answer: 'red' })}\n`);
  return { dir, outside };
}

/** Runs `f`, which must fail; returns its message, and the time and RSS growth it took. */
async function failure(f: () => Promise<unknown>): Promise<{ message: string; ms: number; rssMiB: number; error: unknown }> {
  const rss = process.memoryUsage().rss;
  const t0 = Date.now();
  const error = await f().then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(Error);
  return { message: (error as Error).message, ms: Date.now() - t0, rssMiB: (process.memoryUsage().rss - rss) / 2 ** 20, error };
}

const calib = (dir: string) => loadCalibration(dir, loadTokenizer(model.tokenizer, join(FIXTURE, 'tokenizer.json')), model.mbq);
const evalImage = (dir: string, name: string) => loadImagePixels(dir, name, [64, 64]);

interface FileCase {
  name: string;
  image: string;
  make: (dir: string, outside: string) => void;
  /** The reason, as it appears in "cannot read ... image (<reason>)" or after the manifest line. */
  reason: RegExp;
  /** true: reported against the manifest line when the manifest is read (a path problem). */
  manifestLine?: boolean;
}

const OUTSIDE = /^resolves outside .*\/data \(through a symbolic link\)$/;
const cases: FileCase[] = [
  { name: 'a FIFO', image: 'fifo.png', make: (d) => execFileSync('mkfifo', [join(d, 'fifo.png')]), reason: /^is a FIFO, not a regular file$/ },
  { name: 'a directory', image: 'sub.png', make: (d) => mkdirSync(join(d, 'sub.png')), reason: /^is a directory, not a regular file$/ },
  { name: 'a symlink to /dev/zero', image: 'zero.png', make: (d) => symlinkSync('/dev/zero', join(d, 'zero.png')), reason: OUTSIDE },
  { name: 'a symlink to a file outside', image: 'link.png', make: (d, o) => symlinkSync(join(o, 'secret.png'), join(d, 'link.png')), reason: OUTSIDE },
  { name: 'a symlinked directory leading outside', image: 'sub/secret.txt', make: (d, o) => symlinkSync(o, join(d, 'sub')), reason: OUTSIDE },
  { name: 'a ../ path', image: '../outside/secret.png', make: () => undefined, reason: /^image path "..\/outside\/secret.png" climbs out with '..'; images must lie inside the data directory$/, manifestLine: true },
  { name: 'a percent-encoded ../ path', image: '%2e%2e/outside/secret.png', make: () => undefined, reason: /^image path "%2e%2e\/outside\/secret.png" climbs out with '..'/, manifestLine: true },
  { name: 'an absolute path', image: '/etc/hostname', make: () => undefined, reason: /^image path "\/etc\/hostname" is absolute/, manifestLine: true },
  { name: 'a PNG declaring 20000x20000 pixels', image: 'bomb.png', make: (d) => writeFileSync(join(d, 'bomb.png'), pngDeclaring(20000, 20000)), reason: /^the image is 20000x20000 pixels, over the limit of 8192 on a side and 16777216 pixels in all \(read from the PNG header; not decoded\)$/ },
  { name: 'a JPEG declaring 30000x30000 pixels', image: 'bomb.jpg', make: (d) => writeFileSync(join(d, 'bomb.jpg'), jpegDeclaring(30000, 30000)), reason: /^the image is 30000x30000 pixels, .* \(read from the JPEG header; not decoded\)$/ },
  {
    name: 'a sparse 200 MB file', image: 'huge.png', reason: /^holds 209715200 bytes, more than the \d+ expected$/,
    make: (d) => { const fd = openSync(join(d, 'huge.png'), 'w'); ftruncateSync(fd, 200 * 2 ** 20); closeSync(fd); },
  },
  { name: 'a GIF', image: 'a.gif', make: (d) => writeFileSync(join(d, 'a.gif'), 'GIF89a\x10\x00\x10\x00'), reason: /^not a PNG or JPEG image$/ },
  { name: 'a PNG whose header is fine but whose data is not', image: 'cut.png', make: (d) => writeFileSync(join(d, 'cut.png'), pngDeclaring(64, 64)), reason: /^corrupt image: / },
];

/** Checks a failure's message: the manifest line, or "<image>: cannot read <what> (<reason>)". */
function expectMessage(message: string, dir: string, c: FileCase, what: string): void {
  const prefix = c.manifestLine ? `${join(dir, 'manifest.jsonl')}:1: ` : `${join(dir, c.image)}: cannot read ${what} (`;
  expect(message.startsWith(prefix)).toBe(true);
  expect(c.manifestLine ? message.slice(prefix.length) : message.slice(prefix.length, -1)).toMatch(c.reason);
  expect(message).not.toMatch(/12345|\n/); // nothing about a file outside, one line
}

describe.each(cases)('$name', (c) => {
  test('as a calibration image: one ConversionError naming the file (or manifest line), at once, in bounded memory', async () => {
    const { dir } = dataDir(c.image, c.make);
    const r = await failure(() => calib(dir));
    expect(r.error).toBeInstanceOf(ConversionError);
    expectMessage(r.message, dir, c, 'calibration image');
    expect(r.ms).toBeLessThan(3000);
    expect(r.rssMiB).toBeLessThan(100);
  });

  test('as an evaluation image: one error naming the file (or manifest line), at once, in bounded memory', async () => {
    const { dir } = dataDir(c.image, c.make);
    const r = await failure(async () => { await readManifest(dir); await evalImage(dir, c.image); });
    expectMessage(r.message, dir, c, 'image');
    expect(r.ms).toBeLessThan(3000);
    expect(r.rssMiB).toBeLessThan(100);
  });
});

test('a symlink that stays inside the data directory is followed', async () => {
  const { dir } = dataDir('link.png', (d) => { mkdirSync(join(d, 'img')); copyFileSync(GOOD_PNG, join(d, 'img', 'a.png')); symlinkSync('img/a.png', join(d, 'link.png')); });
  const set = await calib(dir);
  expect(set.samples).toHaveLength(1);
  expect((await evalImage(dir, 'link.png')).length).toBe(64 * 64 * 3);
});

test.each([
  ['a FIFO', (f: string) => execFileSync('mkfifo', [f]), /manifest\.jsonl: cannot read the calibration manifest \(is a FIFO, not a regular file\)$/, /manifest\.jsonl: cannot read the manifest \(is a FIFO, not a regular file\)$/],
  ['a symlink to /dev/zero', (f: string) => symlinkSync('/dev/zero', f), /manifest\.jsonl: cannot read the calibration manifest \(resolves outside/, /manifest\.jsonl: cannot read the manifest \(resolves outside/],
])('a manifest that is %s is refused at once', async (_name, make, calibMessage, evalMessage) => {
  const dir = scratch();
  make(join(dir, 'manifest.jsonl'));
  const c = await failure(() => calib(dir));
  expect(c.message).toMatch(calibMessage);
  const e = await failure(() => readManifest(dir));
  expect(e.message).toMatch(evalMessage);
  expect(c.ms + e.ms).toBeLessThan(3000);
});
