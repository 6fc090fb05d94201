/**
 * Issue 12 §4: the converter reads weights a tensor at a time (never a whole manifest group or the
 * whole model in memory), accepts float16-stored weights (`tfjs-mbq import --dtype float16`), and
 * spills each block's folded weights to scratch once the block is done, so the folded weights it
 * holds do not grow with the number of blocks. Outputs stay byte-identical.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { concatBytes, decodeWeights, type ModelJson } from '@tfjs-mbq/format';
import { convert, loadModelDir, type ConvertOptions } from '@tfjs-mbq/converter';
import { floatToHalfBits, halfToFloat } from '@tfjs-mbq/importer';
import { LazyWeightMap } from '../src/io/lazy_weights.js';
import { writeSyntheticModel } from './helpers/synthetic.js';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');
const roots: string[] = [];
const SEED = 7301;

beforeAll(async () => { await initBackend('cpu'); });
afterAll(() => { for (const d of roots) rmSync(d, { recursive: true, force: true }); });

function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  roots.push(d);
  return d;
}

async function synthetic(layers: number): Promise<string> {
  const dir = await writeSyntheticModel({ layers, seed: SEED });
  roots.push(dir);
  return dir;
}

function readModel(dir: string): { modelJson: ModelJson; bytes: Uint8Array } {
  const modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson;
  const bytes = concatBytes(modelJson.weightsManifest[0]!.paths.map((p) => new Uint8Array(readFileSync(join(dir, p)))));
  return { modelJson, bytes };
}

/** Rewrites a float32 model's weights: each float32 weight stored as float16 (`half`) or as float32 rounded to float16's values. */
function halfCopies(src: string): { f16: string; rounded: string } {
  const { modelJson, bytes } = readModel(src);
  const out = { f16: join(tmp('mbq-f16-'), 'm'), rounded: join(tmp('mbq-f16r-'), 'm') };
  for (const [kind, dir] of Object.entries(out)) {
    const parts: Uint8Array[] = [];
    const entries = [];
    let offset = 0;
    for (const w of modelJson.weightsManifest[0]!.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const len = n * (w.dtype === 'bool' ? 1 : 4);
      const raw = bytes.slice(offset, offset + len);
      offset += len;
      const f = new Float32Array(raw.buffer, 0, w.dtype === 'float32' ? n : 0);
      // As the importer does: tables beyond float16's range (the causal mask's -1e9) stay float32.
      if (w.dtype !== 'float32' || f.some((v) => Math.abs(v) > 65504)) { parts.push(raw); entries.push(w); continue; }
      if (kind === 'f16') {
        parts.push(new Uint8Array(Uint16Array.from(f, (v) => floatToHalfBits(v)).buffer));
        entries.push({ ...w, quantization: { dtype: 'float16' as const } });
      } else {
        parts.push(new Uint8Array(Float32Array.from(f, (v) => halfToFloat(floatToHalfBits(v))).buffer));
        entries.push(w);
      }
    }
    const all = concatBytes(parts);
    // Several shards, cut at odd byte offsets: weights straddle shard boundaries.
    const cut = 4093;
    const paths: string[] = [];
    for (let i = 0; i * cut < all.byteLength; i++) paths.push(`group1-shard${i + 1}.bin`);
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(src)) if (!f.endsWith('.bin') && f !== 'model.json') writeFileSync(join(dir, f), readFileSync(join(src, f)));
    paths.forEach((p, i) => writeFileSync(join(dir, p), all.subarray(i * cut, (i + 1) * cut)));
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...modelJson, weightsManifest: [{ paths, weights: entries }] }));
  }
  return out;
}

/**
 * Every output file byte for byte, quantization.json and report.html without the input path they
 * name. With `storedDiffers` (inputs stored differently), quantization.json's size of the input
 * weights may differ, and report.html, which renders it, is left out (its figures are those of
 * quantization.json).
 */
function expectSameOutput(a: string, b: string, inA: string, inB: string, storedDiffers = false): void {
  const files = readdirSync(a).sort();
  expect(readdirSync(b).sort()).toEqual(files);
  for (const f of files) {
    if (storedDiffers && f === 'report.html') continue;
    let x = readFileSync(join(a, f));
    let y = readFileSync(join(b, f));
    if (f === 'quantization.json' || f === 'report.html') {
      x = Buffer.from(x.toString('utf8').split(inA).join('<in>'));
      y = Buffer.from(y.toString('utf8').split(inB).join('<in>'));
    }
    if (storedDiffers && f === 'quantization.json') {
      const [qx, qy] = [JSON.parse(x.toString('utf8')), JSON.parse(y.toString('utf8'))];
      if (qx.size) delete qx.size.inputWeightBytes;
      if (qy.size) delete qy.size.inputWeightBytes;
      expect(qx).toEqual(qy);
      continue;
    }
    if (!x.equals(y)) throw new Error(`${f} differs between ${a} and ${b}`);
  }
}

const base: Partial<ConvertOptions> = { method: 'mbq', wBits: 3, samples: 2, seed: 5, gridSize: 2 };

test('a tensor at a time: loading reads no weight into memory, each read equals the whole-group decoding', async () => {
  console.log(`seed ${SEED}`);
  const dir = await synthetic(1);
  const m = await loadModelDir(dir, { checkFinite: false });
  expect(m.weights).toBeInstanceOf(LazyWeightMap);
  expect(m.weights.diskReads).toBe(0);
  expect(m.weights.residentBytes).toBe(0);
  const { modelJson, bytes } = readModel(dir);
  const ref = decodeWeights({ modelJson, where: 'model.json', groups: [{ bytes, shards: [] }] });
  expect([...m.weights.keys()]).toEqual([...ref.keys()]);
  for (const [name, w] of ref) {
    const got = m.weights.get(name)!;
    expect(got.shape).toEqual(w.shape);
    expect(got.dtype).toBe(w.dtype);
    expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength))).toBe(true);
    expect(got.data).not.toBe(m.weights.get(name)!.data); // fresh arrays: nothing cached
  }
  expect(m.weights.diskReads).toBe(2 * ref.size);
  expect(m.weights.residentBytes).toBe(0);
});

test('float16-stored weights widen exactly to float32, across shard boundaries, and convert as their float32 values do', async () => {
  const dir = await synthetic(1);
  const { f16, rounded } = halfCopies(dir);
  const a = await loadModelDir(f16);
  const b = await loadModelDir(rounded);
  let halfStored = 0;
  for (const name of b.weights.keys()) {
    const x = a.weights.get(name)!;
    const y = b.weights.get(name)!;
    expect(x.dtype).toBe(y.dtype);
    expect(Array.from(x.data)).toEqual(Array.from(y.data));
    if (a.modelJson.weightsManifest[0]!.weights.find((w) => w.name === name)?.quantization) halfStored++;
  }
  expect(halfStored).toBeGreaterThan(10);
  const outA = join(tmp('mbq-f16o-'), 'q');
  const outB = join(tmp('mbq-f16o-'), 'q');
  await convert({ modelDir: f16, calibDir: CALIB, outDir: outA, ...base });
  await convert({ modelDir: rounded, calibDir: CALIB, outDir: outB, ...base });
  expectSameOutput(outA, outB, f16, rounded, true);
}, 120_000);

test('other tfjs-converter quantizations are still refused, naming the weight', async () => {
  const dir = join(tmp('mbq-u8-'), 'm');
  const src = await synthetic(1);
  cpSync(src, dir, { recursive: true });
  const j = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  j.weightsManifest[0].weights[0].quantization = { dtype: 'uint8', scale: 1, min: 0 };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(j));
  await expect(loadModelDir(dir)).rejects.toThrow(new RegExp(`weight "${j.weightsManifest[0].weights[0].name}": uint8-quantized weights in the manifest are not supported`));
});

test('folded weights held at once do not grow with the number of blocks; spilling them changes no output byte', async () => {
  const peaks: number[] = [];
  const blockBytes: number[] = [];
  for (const layers of [1, 3]) {
    const dir = await synthetic(layers);
    const out = join(tmp('mbq-spill-'), 'q');
    const r = await convert({ modelDir: dir, calibDir: CALIB, outDir: out, ...base });
    peaks.push(r.weights.peakResidentBytes);
    const ws = readModel(dir).modelJson.weightsManifest[0]!.weights.filter((w) => w.name.startsWith('lm/layers.0/'));
    blockBytes.push(ws.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1) * 4, 0));
    expect(r.weights.diskReads).toBeGreaterThan(0);
    if (layers === 3) {
      // keepModel hands the folded model over, so nothing is spilled: the same bytes must come out.
      const kept = join(tmp('mbq-keep-'), 'q');
      const k = await convert({ modelDir: dir, calibDir: CALIB, outDir: kept, keepModel: true, ...base });
      expect(k.weights.peakResidentBytes).toBeGreaterThan(1.5 * r.weights.peakResidentBytes);
      expectSameOutput(out, kept, dir, dir);
    }
  }
  expect(peaks[1]).toBe(peaks[0]);
  // At most one block's weights (plus the scales a fold inserts), never several.
  expect(peaks[0]).toBeGreaterThan(0);
  expect(peaks[0]).toBeLessThanOrEqual(1.1 * blockBytes[0]!);
}, 240_000);

test('spill: weights move to a scratch file, read back byte for byte; dispose removes it', async () => {
  const dir = await synthetic(1);
  const m = (await loadModelDir(dir, { checkFinite: false })).weights;
  const name = [...m.keys()].find((n) => n.endsWith('q_proj/weight'))!;
  const w = m.get(name)!;
  const changed = { ...w, data: Float32Array.from(w.data as Float32Array, (v) => v * 3) };
  m.set(name, changed);
  m.set('extra/scale', { dtype: 'float32', shape: [2], data: Float32Array.of(1.5, -2) });
  expect(m.residentBytes).toBe(changed.data.byteLength + 8);
  const order = [...m.keys()];
  m.spill([name, 'extra/scale']);
  expect(m.residentBytes).toBe(0);
  expect([...m.keys()]).toEqual(order);
  expect(Array.from(m.get(name)!.data)).toEqual(Array.from(changed.data));
  expect(Array.from(m.get('extra/scale')!.data)).toEqual([1.5, -2]);
  const spillDirs = () => readdirSync(tmpdir()).filter((f) => f.startsWith('tfjs-mbq-weights-')).map((f) => join(tmpdir(), f));
  const mine = spillDirs().filter((d) => existsSync(join(d, 'folded.bin')));
  expect(mine.length).toBeGreaterThan(0);
  const before = new Set(spillDirs());
  m.dispose();
  expect(spillDirs().filter((d) => before.has(d)).length).toBe(before.size - 1);
});

describe('the NaN/Inf check on open reads weights larger than its scan chunk (16 MiB) in pieces', () => {
  // A float32 weight of 20 MB across two shards and a float16-stored one of 18 MB: the bad value
  // sits past the first chunk, at a fresh random index, and must be reported at its flat index.
  const cases = [
    { label: 'float32, NaN', n: 5_000_000, half: false, nan: true },
    { label: 'float16-stored, Inf', n: 9_000_000, half: true, nan: false },
    { label: 'float16-stored, NaN at the last element', n: 9_000_000, half: true, nan: true, last: true },
  ];
  for (const c of cases) {
    it(c.label, async () => {
      const dir = tmp('mbq-scan-');
      const width = c.half ? 2 : 4;
      const bytes = new Uint8Array(c.n * width);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < c.n; i += 997) {
        if (c.half) view.setUint16(i * 2, floatToHalfBits(Math.sin(i)), true);
        else view.setFloat32(i * 4, Math.sin(i), true);
      }
      const at = c.last ? c.n - 1 : Math.floor(16 * 2 ** 20 / width + Math.random() * (c.n - 16 * 2 ** 20 / width - 1));
      if (c.half) view.setUint16(at * 2, c.nan ? 0x7e00 : 0xfc00, true);
      else view.setFloat32(at * 4, c.nan ? Number.NaN : Number.NEGATIVE_INFINITY, true);
      const half = Math.floor(bytes.byteLength / 2);
      writeFileSync(join(dir, 'a.bin'), bytes.subarray(0, half));
      writeFileSync(join(dir, 'b.bin'), bytes.subarray(half));
      const modelJson = {
        format: 'graph-model', generatedBy: 'test', convertedBy: 'test',
        modelTopology: { node: [], library: {}, versions: {} },
        weightsManifest: [{ paths: ['a.bin', 'b.bin'], weights: [{ name: 'w', shape: [c.n], dtype: 'float32', ...(c.half ? { quantization: { dtype: 'float16' } } : {}) }] }],
      };
      writeFileSync(join(dir, 'model.json'), JSON.stringify(modelJson));
      await expect(loadModelDir(dir, { requireSidecars: false })).rejects.toThrow(`weight "w" holds ${c.nan ? 'NaN' : 'Inf'} at flat index ${at} `);
    });
  }
});
