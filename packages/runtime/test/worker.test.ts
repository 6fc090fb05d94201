/**
 * The Web Worker split (issue 14 §3) over a MessageChannel in Node (the page test runs it in a real
 * worker in Chromium): `serveVlmWorker` on one port, `loadVlmInWorker` on the other. Load progress,
 * streamed tokens and the answer equal loadVlm's in this thread; an abort from the page stops the
 * worker's generation with an AbortError; errors come back with their message.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Jimp } from 'jimp';
import { loadVlm, serveVlmWorker, type LoadProgress, type MessageEndpoint } from '@tfjs-mbq/runtime';
import { loadVlmInWorker, type WorkerVlm } from '@tfjs-mbq/runtime/worker';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const FIXTURE = join(root, 'fixtures/tiny-vlm');
const EVAL = join(root, 'fixtures/shapes-vqa/eval');
const item = readFileSync(join(EVAL, 'manifest.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l) as { image: string; question?: string }).find((x) => x.question)!;

const endpoint = (p: MessagePort): MessageEndpoint => p as unknown as MessageEndpoint;

describe('a model served from a worker (MessageChannel)', () => {
  let ports: MessageChannel;
  let vlm: WorkerVlm;
  const progress: LoadProgress[] = [];
  beforeAll(async () => {
    ports = new MessageChannel();
    serveVlmWorker({ scope: endpoint(ports.port1) });
    ports.port1.start();
    ports.port2.start();
    vlm = await loadVlmInWorker(endpoint(ports.port2), FIXTURE, { backend: 'cpu', onProgress: (p) => progress.push(p) });
  });
  afterAll(async () => {
    await vlm?.dispose();
    ports.port1.close();
    ports.port2.close();
  });

  it('relays load progress and the model info; streams the same tokens and answer as loadVlm here', async () => {
    expect(progress[0]).toMatchObject({ stage: 'weights', loadedBytes: 0 });
    expect(progress[progress.length - 1]!.stage).toBe('ready');
    expect(vlm.backend).toBe('cpu');
    expect(vlm.decoding).toBe('kv-cache');
    expect(vlm.config.imageSize).toEqual([64, 64]);
    const image = await Jimp.read(join(EVAL, item.image));
    const streamed: string[] = [];
    const gen = await vlm.generate(image, item.question!, { maxNewTokens: 4, minNewTokens: 4, onToken: (t) => streamed.push(t.delta) });
    const local = await loadVlm(FIXTURE, { backend: 'cpu' });
    const expected = await local.generate(image, item.question!, { maxNewTokens: 4, minNewTokens: 4 });
    local.dispose();
    expect(gen).toEqual(expected);
    expect(streamed.join('')).toBe(expected.text);
    expect(image.bitmap.data.byteLength).toBe(64 * 64 * 4); // the caller's pixels were copied, not transferred
  });

  it('an abort on the page stops the generation in the worker', async () => {
    const image = await Jimp.read(join(EVAL, item.image));
    const controller = new AbortController();
    let tokens = 0;
    const run = vlm.generate(image, item.question!, {
      maxNewTokens: 40, minNewTokens: 40, signal: controller.signal,
      onToken: () => { if (++tokens === 1) controller.abort(); },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(tokens).toBeGreaterThanOrEqual(1);
    expect(tokens).toBeLessThan(40);
    // The worker is ready for the next question.
    expect((await vlm.generate(image, item.question!, { maxNewTokens: 2 })).tokenIds.length).toBeGreaterThan(0);
  });

  it('errors in the worker reject with their message', async () => {
    const image = await Jimp.read(join(EVAL, item.image));
    await expect(vlm.generate(image, item.question!, { maxNewTokens: 0 })).rejects.toThrow('answer: maxNewTokens must be a positive integer, got 0');
    const other = new MessageChannel();
    serveVlmWorker({ scope: endpoint(other.port1) });
    other.port1.start();
    other.port2.start();
    await expect(loadVlmInWorker(endpoint(other.port2), join(FIXTURE, 'nope'), { backend: 'cpu' })).rejects.toThrow(/nope/);
    other.port1.close();
    other.port2.close();
  });
});
