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

// Issue 15: the worker's side of the protocol takes messages of any shape without a TypeError or an
// unanswered request, and never keeps a model the page can no longer reach (two loads raced, or a
// dispose during a load, each left a loaded model behind).
describe('messages of unexpected shapes to serveVlmWorker', () => {
  let ports: MessageChannel;
  const replies: Array<{ type: string; id: number; message?: string }> = [];
  const send = (m: unknown): void => ports.port2.postMessage(m);
  const replyTo = async (id: number, type: string): Promise<{ type: string; id: number; message?: string }> => {
    for (let i = 0; i < 600; i++) {
      const r = replies.find((x) => x.id === id && x.type !== 'progress');
      if (r) { expect(r.type).toBe(type); return r; }
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`no reply to ${id}`);
  };
  beforeEach(() => {
    replies.length = 0;
    ports = new MessageChannel();
    serveVlmWorker({ scope: endpoint(ports.port1) });
    ports.port2.on('message', (m: { type: string; id: number }) => replies.push(m));
  });
  afterEach(() => { ports.port1.close(); ports.port2.close(); });

  it('each malformed message gets one error naming the field, with its id when it has one', async () => {
    const bad: Array<[unknown, number, string]> = [
      [null, -1, 'a message must be an object, got null'],
      ['load', -1, 'a message must be an object, got string'],
      [{ type: 'load', id: 1 }, 1, 'load: "location" must be a string'],
      [{ type: 'load', id: 2, location: FIXTURE }, 2, 'load: "options" must be an object'],
      [{ type: 'generate', id: 3, question: 'q', options: {}, image: { data: [1, 2], width: 1, height: 1 } }, 3, 'generate: "image" must be { data: Uint8Array | Uint8ClampedArray, width, height }'],
      [{ type: 'abort', id: 'x' }, -1, 'abort: "id" must be an integer'],
      [{ type: 'exec', id: 4 }, 4, 'unknown message "exec"'],
    ];
    for (const [m] of bad) send(m);
    await new Promise((res) => setTimeout(res, 200));
    expect(replies.map((r) => [r.type, r.id, r.message])).toEqual(bad.map(([, id, msg]) => ['error', id, `serveVlmWorker: ${msg}`]));
  });

  it('a second load while one runs is refused; a dispose during a load leaves no model or tensor behind', async () => {
    const { memory } = await import('@tensorflow/tfjs-core');
    const start = memory().numTensors;
    send({ type: 'load', id: 10, location: FIXTURE, options: { backend: 'cpu' } });
    send({ type: 'load', id: 11, location: FIXTURE, options: { backend: 'cpu' } });
    // Handled in order: the dispose arrives while load 10 is still reading the model.
    send({ type: 'dispose', id: 12 });
    expect((await replyTo(11, 'error')).message).toBe('serveVlmWorker: a model is already loading in this worker; dispose it first');
    await replyTo(12, 'disposed');
    expect((await replyTo(10, 'error')).message).toBe('serveVlmWorker: the worker was disposed while the model loaded');
    expect(memory().numTensors).toBe(start);
    // The worker takes a new load after that.
    send({ type: 'load', id: 13, location: FIXTURE, options: { backend: 'cpu' } });
    await replyTo(13, 'loaded');
    send({ type: 'dispose', id: 14 });
    await replyTo(14, 'disposed');
    expect(memory().numTensors).toBe(start);
  }); // jest.config's 120 s: two loads of the fixture took over 30 s on a loaded 2-core machine
});
