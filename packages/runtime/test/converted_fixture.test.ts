/**
 * Converter output through the runtime: fixtures/tiny-vlm converted by `tfjs-mbq convert` (MBQ, 3-bit
 * weights: the CLI's defaults, 4 calibration samples) into a temporary directory. On wasm and cpu,
 * greedy answers decoded with the KV cache equal, token for token, those of a full re-run of the
 * whole sequence without cache: an argmax loop over a GraphModel loaded independently of the
 * runtime (the converter's directory handler), and on wasm also the runtime's re-run decoder.
 * Expected answers are derived here at run time, never stored: the fixture's weights may change.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GraphModel } from '@tensorflow/tfjs-converter';
import { Jimp } from 'jimp';
import { dirHandler } from '@tfjs-mbq/converter';
import { loadVlm, toPixelValues, type Vlm } from '@tfjs-mbq/runtime';
import { loadVlmOnWebgpu } from './helpers/webgpu.js';
import { FIXTURE_EVAL, convertFixture, evalQuestions, type ConvertedFixture, type EvalItem } from './helpers/convert_fixture.js';

const MAX_NEW = 8;

/** Greedy decoding by re-running the whole sequence through `model` each step (no cache, no runtime code). */
async function rerunReference(model: GraphModel, pixels: tf.Tensor4D, prompt: number[], eos: number): Promise<number[]> {
  const ids = prompt.slice();
  const out: number[] = [];
  while (out.length < MAX_NEW) {
    const inputIds = tf.tensor2d(ids, [1, ids.length], 'int32');
    const logits = model.execute({ pixel_values: pixels, input_ids: inputIds }, 'logits') as tf.Tensor;
    const vocab = logits.shape[2]!;
    const row = (await logits.data()).slice((ids.length - 1) * vocab);
    tf.dispose([inputIds, logits]);
    let next = 0;
    for (let v = 1; v < vocab; v++) if (row[v]! > row[next]!) next = v;
    if (next === eos) break;
    out.push(next);
    ids.push(next);
  }
  return out;
}

describe('a converter-made model (fixtures/tiny-vlm, MBQ W3) through the runtime', () => {
  let tmp: string;
  let converted: ConvertedFixture;
  let items: EvalItem[];

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'mbq-runtime-converted-'));
    converted = await convertFixture(join(tmp, 'w3'), { wBits: 3 });
    // One question of each type (colour, shape, count, position, existence, comparison), each about another image.
    items = await evalQuestions(6, 1);
  }, 180_000);
  afterAll(async () => { if (tmp) await rm(tmp, { recursive: true, force: true }); });

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`${backend}: KV-cache answers equal full re-runs without cache, token for token`, async () => {
      expect(converted.quantizedNodes).toBeGreaterThan(0);
      const cached = await loadVlm(converted.dir, { backend });
      expect(cached.backend).toBe(backend);
      expect(cached.decoding).toBe('kv-cache');
      // The runtime's own re-run decoder on wasm (on cpu, where a run costs twice as much, only the independent loop).
      const plain = backend === 'wasm' ? await loadVlm(converted.dir, { backend, kvCache: false }) : null;
      if (plain) expect(plain.decoding).toBe('re-run');
      const independent = new GraphModel(dirHandler(converted.dir));
      await independent.load();

      const before = tf.memory().numTensors;
      const answers: string[] = [];
      // cpu runs a pass about twice as slowly as wasm: four of the six questions there.
      for (const it of backend === 'wasm' ? items : items.slice(0, 4)) {
        const image = await Jimp.read(join(FIXTURE_EVAL, it.image));
        const a = await cached.generate(image, it.question, { maxNewTokens: MAX_NEW });
        const b = plain ? await plain.generate(image, it.question, { maxNewTokens: MAX_NEW }) : null;
        const pixels = toPixelValues(image, cached.config.imageSize);
        const ref = await rerunReference(independent, pixels, cached.promptIds(it.question), cached.config.eosTokenId);
        pixels.dispose();
        expect({ q: it.question, image: it.image, ids: a.tokenIds }).toEqual({ q: it.question, image: it.image, ids: ref });
        if (b) expect(b.tokenIds).toEqual(ref);
        expect(a.text).toBe(cached.tokenizer.decode(ref));
        answers.push(a.text);
        if (process.env.MBQ_SHOW_ANSWERS) console.log(`${backend} ${it.image} "${it.question}" -> "${a.text}" (eval answer "${it.answer}")`);
      }
      expect(tf.memory().numTensors).toBe(before); // decoders free their caches
      // Not a vacuous comparison: the model answers something, and not the same thing every time.
      expect(answers.filter((x) => x.length > 0).length).toBeGreaterThan(answers.length / 2);
      expect(new Set(answers).size).toBeGreaterThan(1);
      independent.dispose();
      cached.dispose();
      plain?.dispose();
    });
  }

  it('webgpu (Dawn; lavapipe in CI): the packed-weight WGSL kernels give the KV-cache answers wasm gives', async () => {
    const few = items.slice(0, 3);
    const wasm = await loadVlm(converted.dir, { backend: 'wasm' });
    const expected: number[][] = [];
    for (const it of few) expected.push((await wasm.generate(await Jimp.read(join(FIXTURE_EVAL, it.image)), it.question, { maxNewTokens: MAX_NEW })).tokenIds);
    wasm.dispose();
    const gpu = await loadVlmOnWebgpu(converted.dir);
    if (!gpu) return;
    expect(gpu.backend).toBe('webgpu');
    expect(gpu.decoding).toBe('kv-cache');
    const got: number[][] = [];
    for (const it of few) got.push((await gpu.generate(await Jimp.read(join(FIXTURE_EVAL, it.image)), it.question, { maxNewTokens: MAX_NEW })).tokenIds);
    gpu.dispose();
    expect(got).toEqual(expected);
    expect(expected.some((ids) => ids.length > 0)).toBe(true);
  }, 300_000);

  it('wasm: step logits follow full-run logits over a long forced continuation', async () => {
    // Trained answers end at EOS after a word or two; forcing 12 tokens makes the cache grow.
    const vlm: Vlm = await loadVlm(converted.dir, { backend: 'wasm' });
    const it0 = items[0]!;
    const image = await Jimp.read(join(FIXTURE_EVAL, it0.image));
    const prompt = vlm.promptIds(it0.question);
    // 12 ordinary (non-special) tokens spread over the vocabulary.
    const first = 1 + Math.max(vlm.config.bosTokenId, vlm.config.eosTokenId, vlm.config.imageTokenId);
    const span = vlm.tokenizer.vocabSize - first;
    const forced = Array.from({ length: 12 }, (_, i) => first + ((i * 7 + 3) % span));
    const pixels = toPixelValues(image, vlm.config.imageSize);
    const ids = [...prompt, ...forced];
    const full = vlm.model.execute({ pixel_values: pixels, input_ids: tf.tensor2d(ids, [1, ids.length], 'int32') }, 'logits') as tf.Tensor;
    const fullRows = (await full.array()) as number[][][];
    full.dispose();
    const { KvCacheDecoder } = await import('../src/decoding/kv/kv_decoder.js');
    const decoder = (vlm as unknown as { makeDecoder: () => InstanceType<typeof KvCacheDecoder> }).makeDecoder();
    (await decoder.prefillLogits(pixels, prompt)).dispose();
    let worst = 0;
    let scale = 0;
    for (let t = 0; t < forced.length; t++) {
      const step = await decoder.stepLogits(forced[t]!);
      const row = (await step.data()) as Float32Array;
      step.dispose();
      const ref = fullRows[0]![prompt.length + t]!;
      for (let v = 0; v < row.length; v++) {
        worst = Math.max(worst, Math.abs(row[v]! - ref[v]!));
        scale = Math.max(scale, Math.abs(ref[v]!));
      }
      expect(row.indexOf(Math.max(...row))).toBe(ref.indexOf(Math.max(...ref)));
    }
    decoder.dispose();
    pixels.dispose();
    expect(scale).toBeGreaterThan(1);
    expect(worst).toBeLessThan(1e-3 * scale); // float32 sums in another order
    vlm.dispose();
  });
});
