/**
 * Issue 15 §5 and §2/§4 in the runtime: inconsistent model files are refused at load naming the
 * file and the field; a disposed model says so; over HTTP (loopback) the model's origin and
 * byte counts hold and a stalled response ends at the time-out.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, loadVlm } from '@tfjs-mbq/runtime';
import { MBQ_JSON, TINY, TOKENIZER, testImage, writeTinyVlm } from './helpers/tiny_vlm.js';

let root: string;
let good: string;
beforeAll(async () => {
  await initBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'mbq-rt-load-'));
  good = await writeTinyVlm(join(root, 'good'), { seed: 3 });
});
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

let n = 0;
async function damaged(file: string, content: unknown): Promise<string> {
  const dir = join(root, `bad${n++}`);
  await cp(good, dir, { recursive: true });
  if (content === undefined) await rm(join(dir, file));
  else await writeFile(join(dir, file), JSON.stringify(content));
  return dir;
}

const vocabSize = TOKENIZER.size;

describe('§5 inconsistent model files are refused at load, naming file and field', () => {
  test.each([
    ['eosTokenId outside the vocabulary', 'mbq.json', { ...MBQ_JSON, eosTokenId: vocabSize }, new RegExp(`mbq\\.json: "eosTokenId" is ${vocabSize}, outside the vocabulary of ${vocabSize} tokens`)],
    ['imageTokenId outside the vocabulary', 'mbq.json', { ...MBQ_JSON, imageTokenId: 100000 }, /mbq\.json: "imageTokenId" is 100000, outside the vocabulary/],
    ['a non-integer bos id', 'mbq.json', { ...MBQ_JSON, bosTokenId: 1.5 }, /mbq\.json: "bosTokenId" must be an integer >= 0, got 1.5/],
    ['a negative image size', 'mbq.json', { ...MBQ_JSON, imageSize: [-8, 8] }, /mbq\.json: "imageSize" must be \[H, W\] of positive integers, got \[-8,8\]/],
    ['an image token count that config.json contradicts', 'config.json', { text_config: { max_position_embeddings: TINY.maxSeq }, image_seq_length: 7 }, /mbq\.json: "imageTokenCount" is 4 but .*config\.json says "image_seq_length": 7/],
    ['an image size that config.json contradicts', 'config.json', { vision_config: { image_size: 16, patch_size: 4 } }, /mbq\.json: "imageSize" is \[8,8\] but .*config\.json says vision_config.image_size 16/],
    ['a tokenizer with ids past config.json\'s vocabulary (the embedding)', 'config.json', { text_config: { max_position_embeddings: TINY.maxSeq, vocab_size: vocabSize - 2 } },
      new RegExp(`config\\.json: "vocab_size" is ${vocabSize - 2} but the tokenizer has ids up to ${vocabSize - 1}; the model cannot embed them`)],
    ['no config.json', 'config.json', undefined, /config\.json: file not found/],
    ['config.json not an object', 'config.json', [1], /config\.json: expected a JSON object/],
  ])('%s', async (_name, file, content, msg) => {
    await expect(loadVlm(await damaged(file, content), { backend: 'cpu' })).rejects.toThrow(msg);
  });
});

test('answer() after dispose() says the model was disposed', async () => {
  const vlm = await loadVlm(good, { backend: 'cpu', kvCache: false });
  expect((await vlm.generate(testImage(TINY.imageSize), 'what color', { maxNewTokens: 1 })).tokenIds.length).toBe(1);
  vlm.dispose();
  vlm.dispose(); // idempotent
  expect(vlm.disposed).toBe(true);
  await expect(vlm.answer(testImage(TINY.imageSize), 'what color')).rejects.toThrow('answer: the model was disposed (Vlm.dispose() was called)');
  await expect(vlm.timeDecode(testImage(TINY.imageSize), 'what color', { steps: 1 })).rejects.toThrow(/timeDecode: the model was disposed/);
});

describe('over HTTP (loopback)', () => {
  let server: Server;
  let base: string;
  const files = new Map<string, Uint8Array>();
  let stallShard = false;
  beforeAll(async () => {
    for (const f of ['model.json', 'mbq.json', 'tokenizer.json', 'config.json', 'group1-shard1of1.bin']) files.set(f, new Uint8Array(await readFile(join(good, f))));
    server = createServer((req, res) => {
      const name = (req.url ?? '').replace(/^\/m\//, '');
      if (stallShard && name.endsWith('.bin')) { res.write(new Uint8Array(1)); return; } // then nothing, forever
      const body = files.get(name);
      if (!body) { res.statusCode = 404; res.end(); return; }
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m`;
  });
  afterAll(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); });

  test('a model loads over HTTP and answers as from disk', async () => {
    const [a, b] = [await loadVlm(base, { backend: 'cpu', kvCache: false }), await loadVlm(good, { backend: 'cpu', kvCache: false })];
    try {
      expect((await a.generate(testImage(TINY.imageSize), 'what color', { maxNewTokens: 3 })).tokenIds)
        .toEqual((await b.generate(testImage(TINY.imageSize), 'what color', { maxNewTokens: 3 })).tokenIds);
    } finally { a.dispose(); b.dispose(); }
  });

  test('a stalled shard ends at the time-out, and the caller can abort', async () => {
    stallShard = true;
    try {
      const t0 = Date.now();
      await expect(loadVlm(base, { backend: 'cpu', timeoutMs: 300 })).rejects.toThrow(/group1-shard1of1\.bin: no complete response within 300 ms/);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      await expect(loadVlm(base, { backend: 'cpu', signal: controller.signal })).rejects.toThrow(/aborted by the caller/);
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      stallShard = false;
    }
  });

  test('percent-encoded traversal in a shard path is refused over HTTP and with a file:// location', async () => {
    const j = JSON.parse(new TextDecoder().decode(files.get('model.json'))) as { weightsManifest: Array<{ paths: string[] }> };
    j.weightsManifest[0]!.paths = ['%2e%2e/good/group1-shard1of1.bin'];
    const dir = await damaged('model.json', j);
    await expect(loadVlm(`file://${dir}`, { backend: 'cpu' })).rejects.toThrow(/weight path '%2e%2e\/good\/group1-shard1of1\.bin' leaves the model's location/);
    const saved = files.get('model.json')!;
    files.set('model.json', new TextEncoder().encode(JSON.stringify(j)));
    try {
      await expect(loadVlm(base, { backend: 'cpu' })).rejects.toThrow(/leaves the model's location/);
    } finally {
      files.set('model.json', saved);
    }
  });
});

/** `good` with its weight bytes cut into shards of `size` bytes (weights and constants straddle them). */
async function resharded(size: number): Promise<{ dir: string; total: number }> {
  const dir = join(root, `resharded${n++}`);
  await cp(good, dir, { recursive: true });
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
  const [group] = json.weightsManifest;
  const bytes = Buffer.concat(await Promise.all(group!.paths.map((p) => readFile(join(dir, p)))));
  const paths: string[] = [];
  for (let o = 0; o < bytes.length; o += size) {
    paths.push(`part${paths.length}.bin`);
    await writeFile(join(dir, paths[paths.length - 1]!), bytes.subarray(o, o + size));
  }
  group!.paths = paths;
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
  return { dir, total: bytes.length };
}

test('maxWeightBytes: over it a model is refused before any shard is read; shards load as separate buffers', async () => {
  const { dir, total } = await resharded(1000);
  await expect(loadVlm(dir, { backend: 'cpu', maxWeightBytes: total - 1 }))
    .rejects.toThrow(`model.json: the manifest declares ${total} bytes of weights, more than the limit of ${total - 1}`);
  const image = testImage(TINY.imageSize);
  const ref = await loadVlm(good, { backend: 'cpu' });
  const split = await loadVlm(dir, { backend: 'cpu', maxWeightBytes: total });
  expect(split.decoding).toBe('kv-cache');
  const a = await ref.generate(image, 'what color', { maxNewTokens: 4 });
  const b = await split.generate(image, 'what color', { maxNewTokens: 4 });
  expect(b.tokenIds).toEqual(a.tokenIds);
  ref.dispose();
  split.dispose();
});
