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
import { loadCalibration, loadImagePixels, loadTokenizer, loadModelDir, readManifest, readRegularFile, ConversionError, type LoadedModel } from '@tfjs-mbq/converter';
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
  writeFileSync(join(dir, 'manifest.jsonl'), `${JSON.stringify({ image, question: 'what color is the circle ?', answer: 'red', caption: 'a red circle' })}\n`);
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
  /** true: reported against the manifest line (a path problem); false: against the image file. */
  manifestLine?: boolean;
}

const cases: FileCase[] = [
  { name: 'a FIFO', image: 'fifo.png', make: (d) => execFileSync('mkfifo', [join(d, 'fifo.png')]), reason: /^a FIFO, not a regular file$/ },
  { name: 'a directory', image: 'sub.png', make: (d) => mkdirSync(join(d, 'sub.png')), reason: /^a directory, not a regular file$/ },
  { name: 'a symlink to /dev/zero', image: 'zero.png', make: (d) => symlinkSync('/dev/zero', join(d, 'zero.png')), reason: /^path "zero.png" leads out of the (calibration|data) directory through a symbolic link$/, manifestLine: true },
  { name: 'a symlink to a file outside', image: 'link.png', make: (d, o) => symlinkSync(join(o, 'secret.png'), join(d, 'link.png')), reason: /^path "link.png" leads out of the .* directory through a symbolic link$/, manifestLine: true },
  { name: 'a symlinked directory leading outside', image: 'sub/secret.txt', make: (d, o) => symlinkSync(o, join(d, 'sub')), reason: /^path "sub\/secret.txt" leads out of the .* directory through a symbolic link$/, manifestLine: true },
  { name: 'a ../ path', image: '../outside/secret.png', make: () => undefined, reason: /^path "..\/outside\/secret.png" escapes the .* directory$/, manifestLine: true },
  { name: 'an absolute path', image: '/etc/hostname', make: () => undefined, reason: /^path "\/etc\/hostname" escapes the .* directory$/, manifestLine: true },
  { name: 'a PNG declaring 20000x20000 pixels', image: 'bomb.png', make: (d) => writeFileSync(join(d, 'bomb.png'), pngDeclaring(20000, 20000)), reason: /^the image is 20000x20000 pixels, over the limit of 8192 on a side and 16777216 pixels in all \(read from the PNG header; not decoded\)$/ },
  { name: 'a JPEG declaring 30000x30000 pixels', image: 'bomb.jpg', make: (d) => writeFileSync(join(d, 'bomb.jpg'), jpegDeclaring(30000, 30000)), reason: /^the image is 30000x30000 pixels, .* \(read from the JPEG header; not decoded\)$/ },
  {
    name: 'a sparse 200 MB file', image: 'huge.png', reason: /^209715200 bytes, over the limit of 134217728$/,
    make: (d) => { const fd = openSync(join(d, 'huge.png'), 'w'); ftruncateSync(fd, 200 * 2 ** 20); closeSync(fd); },
  },
  { name: 'a GIF', image: 'a.gif', make: (d) => writeFileSync(join(d, 'a.gif'), 'GIF89a\x10\x00\x10\x00'), reason: /^not a PNG or JPEG image$/ },
  { name: 'a PNG whose header is fine but whose data is not', image: 'cut.png', make: (d) => writeFileSync(join(d, 'cut.png'), pngDeclaring(64, 64)), reason: /^corrupt image: / },
];

describe.each(cases)('$name', (c) => {
  test('as a calibration image: one ConversionError naming the file (or manifest line), at once, in bounded memory', async () => {
    const { dir } = dataDir(c.image, c.make);
    const r = await failure(() => calib(dir));
    expect(r.error).toBeInstanceOf(ConversionError);
    if (c.manifestLine) {
      expect(r.message.startsWith(`${join(dir, 'manifest.jsonl')}:1: image `)).toBe(true);
      expect(r.message.slice(`${join(dir, 'manifest.jsonl')}:1: image `.length)).toMatch(c.reason);
    } else {
      const prefix = `${join(dir, c.image)}: cannot read calibration image (`;
      expect(r.message.startsWith(prefix)).toBe(true);
      expect(r.message.slice(prefix.length, -1)).toMatch(c.reason);
    }
    expect(r.message).not.toMatch(/12345|\n/); // no size of a file outside, one line
    expect(r.ms).toBeLessThan(3000);
    expect(r.rssMiB).toBeLessThan(100);
  });

  test('as an evaluation image: one error naming the file (or manifest line), at once, in bounded memory', async () => {
    const { dir } = dataDir(c.image, c.make);
    const manifest = join(dir, 'manifest.jsonl');
    if (c.manifestLine && /escapes/.test(c.reason.source)) {
      // `..` and absolute paths are refused when the manifest is read, with the line.
      const r = await failure(() => readManifest(dir));
      expect(r.message).toBe(`${manifest}:1: image path "${c.image}" escapes the data directory`);
      return;
    }
    await expect(readManifest(dir)).resolves.toHaveLength(1);
    const r = await failure(() => evalImage(dir, c.image));
    const prefix = `${join(dir, c.image)}: cannot read image (`;
    expect(r.message.startsWith(prefix)).toBe(true);
    expect(r.message.slice(prefix.length, -1)).toMatch(c.reason);
    expect(r.message).not.toMatch(/12345|\n/);
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
  ['a FIFO', (f: string) => execFileSync('mkfifo', [f]), 'a FIFO, not a regular file'],
  ['a symlink to /dev/zero', (f: string) => symlinkSync('/dev/zero', f), 'a character device, not a regular file'],
])('a manifest that is %s is refused at once', async (_name, make, reason) => {
  const dir = scratch();
  const manifest = join(dir, 'manifest.jsonl');
  make(manifest);
  const c = await failure(() => calib(dir));
  expect(c.message).toBe(`${manifest}: cannot read the calibration manifest (${reason})`);
  const e = await failure(() => readManifest(dir));
  expect(e.message).toBe(`${manifest}: cannot read manifest (${reason})`);
  expect(c.ms + e.ms).toBeLessThan(3000);
});

test('readRegularFile: devices are refused without reading; a regular file reads back whole', async () => {
  for (const dev of ['/dev/zero', '/dev/null', '/dev/urandom']) {
    await expect(readRegularFile(dev, 1024)).rejects.toThrow(`${dev}: a character device, not a regular file`);
  }
  const f = join(scratch(), 'f');
  writeFileSync(f, Buffer.alloc(3000, 7));
  expect((await readRegularFile(f, 3000)).equals(Buffer.alloc(3000, 7))).toBe(true);
  await expect(readRegularFile(f, 2999)).rejects.toThrow(`${f}: 3000 bytes, over the limit of 2999`);
  await expect(readRegularFile(join(f, 'x'), 10)).rejects.toThrow(`${join(f, 'x')}: file not found`);
});
