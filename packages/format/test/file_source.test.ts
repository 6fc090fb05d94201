/**
 * Issue 15 §2-§4 on the file system: every file the reader opens lies inside the model directory
 * after resolving links, is a regular file, and is read no further than the manifest declares.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeWeights, readGraphModel, readJsonFile, type FormatError } from '@tfjs-mbq/format';
import { fileSource } from '@tfjs-mbq/format/node';
import { W1, W2, modelJson, writeModel } from './helpers.js';

let root: string;
let outside: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mbq-format-fs-'));
  outside = join(root, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret.bin'), new Uint8Array(32));
});
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

let n = 0;
async function modelDir(split = false): Promise<string> {
  const dir = join(root, `m${n++}`);
  await writeModel(dir, split);
  return dir;
}

async function setPaths(dir: string, paths: string[]): Promise<void> {
  await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson(paths)));
}

async function failure(dir: string): Promise<FormatError> {
  try {
    await readGraphModel(fileSource(dir));
  } catch (e) {
    return e as FormatError;
  }
  throw new Error('the model loaded');
}

test('a valid model reads back its weights, from one shard or two', async () => {
  for (const split of [false, true]) {
    const files = await readGraphModel(fileSource(await modelDir(split)));
    const w = decodeWeights(files, { checkFinite: true });
    expect(Array.from(w.get('w1')!.data)).toEqual(Array.from(W1));
    expect(Array.from(w.get('w2')!.data)).toEqual(Array.from(W2));
  }
});

describe('§2 escaping the model directory', () => {
  test('a symlinked directory inside the model (sub/ -> outside) is refused, disclosing nothing about the target', async () => {
    const dir = await modelDir();
    await symlink(outside, join(dir, 'sub'));
    await setPaths(dir, ['sub/secret.bin']);
    const e = await failure(dir);
    expect(e.code).toBe('WEIGHTS_PATH_ESCAPE');
    expect(e.message).toContain(join(dir, 'sub/secret.bin'));
    expect(e.message).toMatch(/outside/);
    expect(e.message).not.toMatch(/32|bytes/); // the size of the file out there stays unknown
  });

  test('a shard that is a symlink to a file outside is refused; a link that stays inside is read', async () => {
    const dir = await modelDir();
    await symlink(join(outside, 'secret.bin'), join(dir, 'link.bin'));
    await setPaths(dir, ['link.bin']);
    expect((await failure(dir)).code).toBe('WEIGHTS_PATH_ESCAPE');
    const ok = await modelDir();
    await symlink(join(ok, 'group1-shard1of1.bin'), join(ok, 'inner.bin'));
    await setPaths(ok, ['inner.bin']);
    expect((await readGraphModel(fileSource(ok))).groups[0]!.bytes.byteLength).toBe(32);
  });

  test.each([
    ['../outside/secret.bin'], ['%2e%2e/outside/secret.bin'], ['%2E%2E%2Foutside%2Fsecret.bin'], ['sub/..%2f..%2foutside/secret.bin'],
    ['/etc/hostname'], ['%2fetc%2fhostname'], ['file:///etc/hostname'], ['C:\\x.bin'], ['a%zz.bin'], ['a\u0000.bin'],
  ])('the shard path %j is refused before anything is read', async (p) => {
    const dir = await modelDir();
    await setPaths(dir, [p]);
    const e = await failure(dir);
    expect(e.code).toBe('WEIGHTS_PATH_ESCAPE');
    expect(e.message).toContain(join(dir, 'model.json'));
  });

  test('model.json itself reached through a link out of the directory is refused', async () => {
    const dir = join(root, `m${n++}`);
    await mkdir(dir);
    await writeModel(join(outside, 'real'));
    await symlink(join(outside, 'real', 'model.json'), join(dir, 'model.json'));
    await expect(readJsonFile(fileSource(dir), 'model.json', 'MODEL_JSON_READ')).rejects.toThrow(/resolves outside/);
  });
});

describe('§3 files that are not files', () => {
  test('a FIFO as a shard is refused at once (no writer ever comes)', async () => {
    const dir = await modelDir();
    execFileSync('mkfifo', [join(dir, 'fifo.bin')]);
    await setPaths(dir, ['fifo.bin']);
    const t0 = Date.now();
    const e = await failure(dir);
    expect(e.message).toMatch(/fifo\.bin: is a FIFO, not a regular file/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('a directory as a shard, and model.json as a directory, are refused', async () => {
    const dir = await modelDir();
    await mkdir(join(dir, 'd.bin'));
    await setPaths(dir, ['d.bin']);
    expect((await failure(dir)).message).toMatch(/d\.bin: is a directory, not a regular file/);
    const dir2 = join(root, `m${n++}`);
    await mkdir(join(dir2, 'model.json'), { recursive: true });
    expect((await failure(dir2)).message).toMatch(/model\.json: is a directory/);
  });

  test('a device (/dev/zero) as a sidecar through a link is refused without reading it', async () => {
    const dir = await modelDir();
    await symlink('/dev/zero', join(dir, 'config.json'));
    await expect(readJsonFile(fileSource(dir), 'config.json', 'CONFIG')).rejects.toMatchObject({ code: 'CONFIG' });
  });
});

describe('§4 declared sizes', () => {
  test('a sparse 4 GiB shard is refused from its size, without reading it', async () => {
    const dir = await modelDir();
    const h = await open(join(dir, 'group1-shard1of1.bin'), 'r+');
    await h.truncate(4 * 1024 ** 3);
    await h.close();
    const rss = process.memoryUsage().rss;
    const t0 = Date.now();
    const e = await failure(dir);
    expect(e.code).toBe('WEIGHTS_SHARD_SIZE');
    expect(e.message).toMatch(/hold more than the 32 bytes/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 1024 ** 2);
  });

  test('a shard listed twice (or hundreds of times, in any spelling) is refused before any read', async () => {
    for (const paths of [['a.bin', 'a.bin'], ['a.bin', './a.bin'], ['a.bin', 'b.bin', ...new Array<string>(300).fill('b.bin')], ['a.bin', '%62.bin', 'b.bin']]) {
      const dir = await modelDir(true);
      await setPaths(dir, paths);
      const e = await failure(dir);
      expect(e.code).toBe('MODEL_JSON_FORMAT');
      expect(e.message).toMatch(/is listed twice/);
    }
  });

  test('shards shorter or longer than the manifest declares are refused, naming the shard and model.json', async () => {
    const short = await modelDir(true);
    await writeFile(join(short, 'b.bin'), new Uint8Array(4));
    const e1 = await failure(short);
    expect(e1.code).toBe('WEIGHTS_SHARD_SIZE');
    expect(e1.message).toMatch(/hold 24 bytes, .*model\.json describes 32 \(shard missing data/);
    const long = await modelDir(true);
    await writeFile(join(long, 'a.bin'), new Uint8Array(33));
    const e2 = await failure(long);
    expect(e2.code).toBe('WEIGHTS_SHARD_SIZE');
    expect(e2.message).toContain(join(long, 'a.bin'));
  });

  test('a manifest declaring more than the weight limit is refused before reading shards', async () => {
    const dir = await modelDir();
    const j = modelJson();
    j.weightsManifest[0]!.weights.push({ name: 'huge', shape: [1 << 20, 1 << 20], dtype: 'float32' });
    await writeFile(join(dir, 'model.json'), JSON.stringify(j));
    const e = await failure(dir);
    expect(e.code).toBe('WEIGHTS_SHARD_SIZE');
    expect(e.message).toMatch(/declares \d+ bytes of weights, more than the limit/);
  });

  test('a missing shard is named', async () => {
    const dir = await modelDir();
    await rm(join(dir, 'group1-shard1of1.bin'));
    const e = await failure(dir);
    expect(e.code).toBe('WEIGHTS_SHARD_MISSING');
    expect(e.message).toMatch(/group1-shard1of1\.bin: weight shard listed in .*model\.json is missing \(file not found\)/);
  });
});

test('the bytes of model.json come back as read (sidecars are copied byte for byte)', async () => {
  const dir = await modelDir();
  const j = await readJsonFile(fileSource(dir), 'model.json', 'MODEL_JSON_READ');
  expect(Buffer.from(j.bytes).equals(await readFile(join(dir, 'model.json')))).toBe(true);
});
