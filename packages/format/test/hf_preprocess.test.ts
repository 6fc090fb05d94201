// preprocessImage against transformers 5.17's own pixel_values (fixtures/hf/*/records, made by
// fixtures/hf/make_fixtures.py with the PIL backend of each image processor): every recorded case,
// within 1e-5, read from each checkpoint's saved image processor settings.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Jimp } from 'jimp';
import {
  chwToHwc, findImageProcessorConfig, preprocessImage, tinyVlmImageProcessor, type ImageProcessorConfig, type RgbImage,
} from '@tfjs-mbq/format';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const hfDir = join(root, 'fixtures', 'hf');
const CHECKPOINTS = ['llava-1.5-tiny', 'llava-1.5-tiny-tf4', 'llava-onevision-tiny', 'qwen2-vl-tiny'];
const TOLERANCE = 1e-5;

interface RecordCase { index: number; image: string; pixel_values_shape: number[]; image_grid_thw?: number[][] }

/** The float32 and int64 tensors of a records.safetensors (little-endian, as safetensors stores them). */
function readSafetensors(path: string): Map<string, { shape: number[]; data: Float32Array | BigInt64Array }> {
  const buf = readFileSync(path);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + headerLen;
  const out = new Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = buf.subarray(base + t.data_offsets[0], base + t.data_offsets[1]);
    const copy = new Uint8Array(bytes).buffer;
    if (t.dtype === 'F32') out.set(name, { shape: t.shape, data: new Float32Array(copy) });
    else if (t.dtype === 'I64') out.set(name, { shape: t.shape, data: new BigInt64Array(copy) });
  }
  return out;
}

async function readPng(path: string): Promise<RgbImage> {
  const image = await Jimp.read(readFileSync(path));
  return { data: new Uint8Array(image.bitmap.data), width: image.bitmap.width, height: image.bitmap.height };
}

function readJson(path: string): { json: unknown; file: string } | undefined {
  return existsSync(path) ? { json: JSON.parse(readFileSync(path, 'utf8')), file: path } : undefined;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.each(CHECKPOINTS)('%s: pixel_values equal transformers', (name) => {
  const dir = join(hfDir, name);
  const records = JSON.parse(readFileSync(join(dir, 'records', 'records.json'), 'utf8')) as { cases: RecordCase[] };
  const tensors = readSafetensors(join(dir, 'records', 'records.safetensors'));
  const config: ImageProcessorConfig = findImageProcessorConfig({
    processorConfig: readJson(join(dir, 'processor_config.json')),
    preprocessorConfig: readJson(join(dir, 'preprocessor_config.json')),
  });

  test('the records have cases', () => {
    expect(records.cases.length).toBeGreaterThanOrEqual(2);
  });

  test.each(records.cases.map((c) => [c.index, c] as const))('case %i', async (i, c) => {
    const got = preprocessImage(await readPng(join(root, c.image)), config);
    const want = tensors.get(`pixel_values.${i}`)!;
    expect(got.shape).toEqual(want.shape);
    expect(got.shape).toEqual(c.pixel_values_shape);
    expect(maxAbsDiff(got.pixelValues, want.data as Float32Array)).toBeLessThanOrEqual(TOLERANCE);
    const thw = tensors.get(`image_grid_thw.${i}`);
    if (thw) expect(got.imageGridThw).toEqual(Array.from(thw.data as BigInt64Array, Number));
    else expect(got.imageGridThw).toBeUndefined();
  });
});

test('transformers 4 and 5 layouts of one LLaVA processor give one description', () => {
  const v5 = findImageProcessorConfig({ processorConfig: readJson(join(hfDir, 'llava-1.5-tiny', 'processor_config.json')) });
  const v4 = findImageProcessorConfig({
    processorConfig: readJson(join(hfDir, 'llava-1.5-tiny-tf4', 'processor_config.json')),
    preprocessorConfig: readJson(join(hfDir, 'llava-1.5-tiny-tf4', 'preprocessor_config.json')),
  });
  expect(v4).toEqual(v5);
  expect(v5).toEqual({
    kind: 'single', compositeOnWhite: true, resample: 'bicubic', rescaleFactor: 1 / 255,
    normalize: { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] },
    resize: { shortestEdge: 48 }, centerCrop: { height: 42, width: 42 },
  });
});

test('tiny-vlm preprocessing is the degenerate case: its 64x64 PNGs become byte / 255', async () => {
  const mbq = JSON.parse(readFileSync(join(root, 'fixtures', 'tiny-vlm', 'mbq.json'), 'utf8')) as { imageSize: [number, number] };
  const png = await readPng(join(root, 'fixtures', 'shapes-vqa', 'eval', '0003.png'));
  const got = preprocessImage(png, tinyVlmImageProcessor(mbq.imageSize));
  const [h, w] = mbq.imageSize;
  expect(got.shape).toEqual([1, 3, h, w]);
  const hwc = chwToHwc(got.pixelValues, h, w);
  let worst = 0;
  for (let p = 0; p < h * w; p++) for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(hwc[p * 3 + c]! - png.data[p * 4 + c]! / 255));
  expect(worst).toBeLessThanOrEqual(6e-8); // float32 rounding of the float64 quotient
});
