/**
 * `tfjs-mbq convert <hfDir>` on a tiny Hugging Face checkpoint of fixtures/hf (issue 12 §2): the
 * same checks for every architecture, one test file per architecture so jest runs them in parallel.
 * - MBQ W3 and W4A8 (`--samples 4`, wasm): every decoder linear of the imported graph (found by the
 *   converter's analysis of the float import) is an MbqQuantizedMatMul with those bits,
 *   quantization.json lists every block's scale groups and names the checkpoint as the source, the
 *   checkpoint's tokenizer / chat-template / processor files are in the output byte for byte, and
 *   loadVlm answers: greedy tokens from the image's pixel_values (format's graphImage, as
 *   calibration makes them) are the same with the KV cache and re-running the sequence, and on a
 *   second call; `answer()` / `generate()` on the PNG itself builds the processor's prompt ids (the
 *   records' input_ids; for an import at another image size than the records', the same ids with
 *   the image-token run as long as the processor makes it for that size) and gives those tokens.
 * - Calibration (no conversion): on the records' images and questions, a sequence is transformers'
 *   prompt ids (records' input_ids), then the answer's tokens and EOS; the vision mask is the
 *   image-token run, the caption mask the answer and EOS; pixel_values equal the processor's
 *   recorded ones within 1e-5.
 * - W4 emitted as a float graph, on the records' cases (PNG + question): teacher-forced along the
 *   float import's 16 greedy tokens, the quantized model ranks the float token among its 5 most
 *   likely at >= 75% of the 48 positions (measured 92-100%; chance ~1% over ~500 tokens), and its
 *   logits stay within 0.5 of the float logits' largest |value| (measured 0.27-0.36: W4 g64 on
 *   random hidden-64 weights moves logits a lot; W3 0.49-0.72).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Jimp } from 'jimp';
import { analyseGraph, calibInputs, loadCalibration, loadModelDir, type GraphAnalysis } from '@tfjs-mbq/converter';
import { graphImage, HF_SIDECAR_FILES, parseImageInputLayout, parseStoredImageProcessor, type ImageInputLayout, type ImageProcessorConfig } from '@tfjs-mbq/format';
import { importCheckpoint } from '@tfjs-mbq/importer';
import { loadVlm, type Vlm } from '@tfjs-mbq/runtime';
import { readRecords, type RecordCase } from '../../../importer/test/helpers/hf_records.js';
import { recordedGraphPixels } from '../../../importer/test/helpers/import_fidelity.js';
import { runCli } from './run_cli.js';

export const HF = join(process.cwd(), 'fixtures/hf');
export const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');

interface NodeLite { name: string; op: string; attr?: Record<string, { i?: string }> }
interface QuantizationLite { source: string; groups: Array<{ block: number; group: string }>; linears: Array<{ node: string }> }

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** The graph's pixel_values of a PNG, made as calibration makes them (mbq.json's processor and layout). */
class GraphImages {
  private constructor(readonly processor: ImageProcessorConfig, readonly layout: ImageInputLayout, readonly imageSize: [number, number]) {}

  static of(modelDir: string): GraphImages {
    const mbq = readJson<{ imageSize: [number, number]; imageInput: unknown; imageProcessor: unknown }>(join(modelDir, 'mbq.json'));
    const processor = parseStoredImageProcessor(mbq.imageProcessor, 'mbq.json');
    return new GraphImages(processor, parseImageInputLayout(mbq.imageInput, mbq.imageSize, 'mbq.json'), mbq.imageSize);
  }

  async pixels(png: string): Promise<tf.Tensor4D> {
    const g = graphImage((await Jimp.read(png)).bitmap, this.processor, this.layout, this.imageSize);
    return tf.tensor4d(g.data, g.shape);
  }
}

/**
 * The processor's input_ids for a record's question when the model's image makes `count` image
 * tokens: the records' ids (made at the records' image size) with the image-token run re-expanded,
 * as the processor expands its placeholder to the image's feature count.
 */
function processorIds(c: RecordCase, count: number): number[] {
  const ids = c.input_ids;
  const image = ids[c.image_token_offset]!;
  return [...ids.slice(0, c.image_token_offset), ...new Array<number>(count).fill(image), ...ids.slice(c.image_token_offset + c.image_token_count)];
}

async function greedy(vlm: Vlm, pixels: tf.Tensor4D, question: string): Promise<number[]> {
  const g = await vlm.generateFromPixels(pixels, question, { maxNewTokens: 16 });
  expect(g.tokenIds.length > 0 || g.stoppedAtEos).toBe(true);
  return g.tokenIds;
}

/** Teacher-forced along `tokens` after the prompt: per position, how many logits of `model` beat the token's, and the max |logit| difference. */
async function teacherForced(q: Vlm, f: Vlm, pixels: tf.Tensor4D, question: string, tokens: number[]): Promise<{ ranks: number[]; relError: number }> {
  const prompt = f.promptIds(question);
  const ids = tf.tensor2d([[...prompt, ...tokens]], [1, prompt.length + tokens.length], 'int32');
  const [lq, lf] = [q, f].map((m) => m.model.execute({ input_ids: ids, pixel_values: pixels }) as tf.Tensor);
  try {
    const rows = (await lq!.array()) as number[][][];
    const ranks = tokens.map((t, i) => { const row = rows[0]![prompt.length - 1 + i]!; return row.filter((x) => x > row[t]!).length; });
    const [diff, max] = await Promise.all([tf.max(tf.abs(tf.sub(lq!, lf!))).data(), tf.max(tf.abs(lf!)).data()]);
    return { ranks, relError: diff[0]! / max[0]! };
  } finally {
    tf.dispose([ids, lq!, lf!]);
  }
}

export interface HfConversionOptions {
  /** importCheckpoint's imageSize that the records were made at (Qwen2-VL: 84x84; `convert <hfDir>` imports at the default). */
  recordsImageSize?: [number, number];
}

export function describeHfConversion(checkpoint: string, options: HfConversionOptions = {}): void {
  const hfDir = join(HF, checkpoint);
  let tmp: string;
  let floatDir: string;
  let analysis: GraphAnalysis;
  let images: GraphImages;
  let cases: RecordCase[];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), `hf-convert-${checkpoint}-`));
    floatDir = (await importCheckpoint({ hfDir, outDir: join(tmp, 'float') })).outDir;
    const m = await loadModelDir(floatDir);
    analysis = analyseGraph(m.modelJson.modelTopology, m.weights);
    images = GraphImages.of(floatDir);
    cases = (await readRecords(hfDir)).cases;
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  async function convertHf(name: string, args: string[]): Promise<string> {
    const out = join(tmp, name);
    const r = await runCli(['convert', hfDir, '--calib', CALIB, '--samples', '4', '--backend', 'wasm', '--out', out, '--no-progress', ...args]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return out;
  }

  test(`${checkpoint}: calibration sequences are the processor's prompt ids, the answer and EOS; pixel_values the processor's`, async () => {
    const imported = await importCheckpoint({ hfDir, outDir: join(tmp, 'records-size'), imageSize: options.recordsImageSize });
    const calib = join(tmp, 'calib');
    mkdirSync(calib);
    const answer = 'red square';
    for (const c of cases) copyFileSync(c.image, join(calib, `${c.index}.png`));
    writeFileSync(join(calib, 'manifest.jsonl'), cases.map((c) => JSON.stringify({ image: `${c.index}.png`, question: c.question, answer })).join('\n') + '\n');
    const inputs = calibInputs(await loadModelDir(imported.outDir));
    const set = await loadCalibration(calib, inputs);
    const { tensors } = await readRecords(hfDir);
    for (const [i, c] of cases.entries()) {
      const s = set.samples[i]!;
      const ids = Array.from(s.inputIds);
      const prompt = c.input_ids.length;
      expect(ids.slice(0, prompt)).toEqual(c.input_ids);
      expect(ids[ids.length - 1]).toBe(inputs.prompter.eosTokenId);
      expect(inputs.prompter.tokenizer.decode(ids.slice(prompt, -1)).trim()).toBe(answer);
      const run = (p: number): number => Number(p >= c.image_token_offset && p < c.image_token_offset + c.image_token_count);
      expect(Array.from(s.visionMask)).toEqual(ids.map((_, p) => run(p)));
      expect(Array.from(s.captionMask)).toEqual(ids.map((_, p) => Number(p >= prompt)));
      const expected = recordedGraphPixels(imported, c, (await tensors(c.index)).pixelValues);
      expect(s.pixels.length).toBe(expected.length);
      expect(s.pixels.reduce((m, v, j) => Math.max(m, Math.abs(v - expected[j]!)), 0)).toBeLessThanOrEqual(1e-5);
    }
  });

  test.each([
    { method: 'mbq W3', args: [], bits: 3, actBits: undefined },
    { method: 'mbq W4A8', args: ['--w-bits', '4', '--a-bits', '8'], bits: 4, actBits: 8 },
  ])(`${checkpoint}: convert <hfDir> with $method quantizes every decoder linear and the model answers`, async ({ method, args, bits, actBits }) => {
    const out = await convertHf(method.replace(' ', '-'), args);
    const decoderLinears = analysis.blocks.flatMap((b) => [b.q, b.k, b.v, b.o, b.gate, b.up, b.down]);
    expect(decoderLinears.length).toBe(7 * analysis.blocks.length);
    const nodes = new Map(readJson<{ modelTopology: { node: NodeLite[] } }>(join(out, 'model.json')).modelTopology.node.map((n) => [n.name, n]));
    // Written fused (emit/fuse.ts): q/k/v and gate/up merged, so 4 MbqQuantizedMatMul per block
    // (o_proj and down_proj keep their nodes), one MbqAttention and one MbqSiluGate per block.
    for (const id of analysis.blocks.flatMap((b) => [b.o, b.down])) expect(nodes.get(id)?.op).toBe('MbqQuantizedMatMul');
    const quantizedNodes = [...nodes.values()].filter((n) => n.op === 'MbqQuantizedMatMul');
    expect(quantizedNodes.length).toBe(4 * analysis.blocks.length);
    for (const n of quantizedNodes) {
      expect(n.attr?.bits?.i).toBe(String(bits));
      expect(n.attr?.act_bits?.i).toBe(actBits === undefined ? undefined : String(actBits));
    }
    expect([...nodes.values()].filter((n) => n.op === 'MbqAttention').length).toBe(analysis.blocks.length);
    expect([...nodes.values()].filter((n) => n.op === 'MbqSiluGate').length).toBe(analysis.blocks.length);

    const q = readJson<QuantizationLite>(join(out, 'quantization.json'));
    expect(q.source).toBe(hfDir);
    expect(q.groups.map((g) => `${g.block}/${g.group}`)).toEqual(analysis.blocks.flatMap((b) => b.groups.map((g) => `${b.index}/${g.name}`)));
    expect(q.linears.map((l) => l.node).sort()).toEqual([...decoderLinears].sort());
    for (const f of HF_SIDECAR_FILES) {
      let source: Buffer | undefined;
      try { source = readFileSync(join(hfDir, f)); } catch { continue; }
      expect(readFileSync(join(out, f)).equals(source)).toBe(true);
    }
    expect(readJson(join(out, 'mbq.json'))).toEqual(readJson(join(floatDir, 'mbq.json')));

    const c = cases[0]!;
    const pixels = await images.pixels(c.image);
    const cached = await loadVlm(out, { backend: 'wasm' });
    const rerun = await loadVlm(out, { backend: 'wasm', kvCache: false });
    try {
      expect(cached.decoding).toBe('kv-cache');
      const tokens = await greedy(cached, pixels, c.question);
      expect(await greedy(cached, pixels, c.question)).toEqual(tokens);
      expect(await greedy(rerun, pixels, c.question)).toEqual(tokens);
      // The app's path: the PNG and the question, through mbq.json's processor and the chat template.
      const ids = processorIds(c, readJson<{ imageTokenCount: number }>(join(out, 'mbq.json')).imageTokenCount);
      expect(cached.promptIds(c.question)).toEqual(ids);
      const png = await Jimp.read(c.image);
      const g = await cached.generate(png, c.question, { maxNewTokens: 16 });
      expect(g.promptLength).toBe(ids.length);
      expect(g.tokenIds).toEqual(tokens);
      expect(await cached.answer(png, c.question, { maxNewTokens: 16 })).toBe(g.text);
    } finally {
      cached.dispose();
      rerun.dispose();
      pixels.dispose();
    }
  });

  test(`${checkpoint}: a float-emitted W4 conversion stays close to the float import on the records' cases`, async () => {
    const out = await convertHf('w4-float', ['--w-bits', '4', '--emit', 'float']);
    const nodes = readJson<{ modelTopology: { node: NodeLite[] } }>(join(out, 'model.json')).modelTopology.node;
    expect(nodes.some((n) => n.op === 'MbqQuantizedMatMul')).toBe(false);
    const f = await loadVlm(floatDir, { backend: 'wasm', kvCache: false });
    const q = await loadVlm(out, { backend: 'wasm', kvCache: false });
    const ranks: number[] = [];
    try {
      for (const c of cases) {
        const pixels = await images.pixels(c.image);
        try {
          const tokens = await greedy(f, pixels, c.question);
          expect(tokens.length).toBe(16);
          const r = await teacherForced(q, f, pixels, c.question, tokens);
          expect(r.relError).toBeLessThan(0.5);
          ranks.push(...r.ranks);
        } finally {
          pixels.dispose();
        }
      }
    } finally {
      f.dispose();
      q.dispose();
    }
    const top5 = ranks.filter((r) => r < 5).length;
    expect(top5).toBeGreaterThanOrEqual(Math.ceil(0.75 * ranks.length));
  });
}
