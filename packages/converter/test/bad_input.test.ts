/**
 * Issue 6 §1: every bad input gets a clear error naming the file and the problem, a non-zero exit
 * through the CLI, no output directory (or temporary sibling) left behind, and an unchanged input.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../cli/test/helpers/run_cli.js';
import { writeSyntheticModel } from './helpers/synthetic.js';
import { loadCalibration, loadModelDir, loadTokenizer } from '@tfjs-mbq/converter';

const CALIB = join(process.cwd(), 'fixtures/shapes-vqa/calib');
let base: string;

beforeAll(async () => { base = await writeSyntheticModel({ layers: 1, seed: 41 }); });

function hashDir(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    h.update(f);
    if (statSync(p).isFile()) h.update(readFileSync(p));
  }
  return h.digest('hex');
}

function copyModel(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'mbq-bad-')), 'model');
  cpSync(base, dir, { recursive: true });
  return dir;
}

function editJson(file: string, edit: (j: any) => void): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  const j = JSON.parse(readFileSync(file, 'utf8'));
  edit(j);
  writeFileSync(file, JSON.stringify(j));
}

interface Case { name: string; setup: (model: string, calib: string) => string[] | void; expect: RegExp; file: (model: string, calib: string) => string }

const modelJson = (m: string): string => join(m, 'model.json');
const shard = (m: string): string => join(m, 'group1-shard1of1.bin');
/** Overwrites one float of a weight (flat index `at`) in the shard. */
function poke(m: string, weight: string, at: number, value: number): void {
  const j = JSON.parse(readFileSync(modelJson(m), 'utf8'));
  let offset = 0;
  for (const w of j.weightsManifest[0].weights) {
    if (w.name === weight) break;
    offset += w.shape.reduce((a: number, b: number) => a * b, 1) * 4;
  }
  const buf = readFileSync(shard(m));
  buf.writeFloatLE(value, offset + 4 * at);
  writeFileSync(shard(m), buf);
}

const cases: Case[] = [
  { name: 'malformed model.json', setup: (m) => writeFileSync(modelJson(m), '{"format": "graph-model", modelTopology: }'), expect: /invalid JSON, malformed/, file: modelJson },
  { name: 'truncated model.json', setup: (m) => writeFileSync(modelJson(m), readFileSync(modelJson(m), 'utf8').slice(0, 500)), expect: /invalid JSON, truncated/, file: modelJson },
  { name: 'wrong format', setup: (m) => editJson(modelJson(m), (j) => { j.format = 'layers-model'; }), expect: /graph-model/, file: modelJson },
  { name: 'missing shard', setup: (m) => editJson(modelJson(m), (j) => { j.weightsManifest[0].paths = ['group1-shard1of2.bin']; }), expect: /missing/, file: (m) => join(m, 'group1-shard1of2.bin') },
  { name: 'shard too short', setup: (m) => writeFileSync(shard(m), readFileSync(shard(m)).subarray(0, 1000)), expect: /shard missing data: truncated or short/, file: shard },
  { name: 'manifest path escaping with ../', setup: (m) => editJson(modelJson(m), (j) => { j.weightsManifest[0].paths = ['../group1-shard1of1.bin']; }), expect: /leaves the model's location/, file: modelJson },
  { name: 'absolute manifest path', setup: (m) => editJson(modelJson(m), (j) => { j.weightsManifest[0].paths = [shard(m)]; }), expect: /is absolute/, file: modelJson },
  {
    name: 'dtype mismatch', expect: /DT_FLOAT but its manifest weight is int32/, file: modelJson,
    setup: (m) => editJson(modelJson(m), (j) => { j.weightsManifest[0].weights.find((w: { name: string }) => w.name === 'lm/layers.0/mlp/up_proj/weight').dtype = 'int32'; }),
  },
  {
    name: 'shape mismatch', expect: /has shape \[64,128\] but its manifest weight has shape \[128,64\]/, file: modelJson,
    setup: (m) => editJson(modelJson(m), (j) => { j.weightsManifest[0].weights.find((w: { name: string }) => w.name === 'lm/layers.0/mlp/up_proj/weight').shape = [128, 64]; }),
  },
  {
    name: 'Inf weight', expect: /"lm\/layers.0\/self_attn\/q_proj\/weight" holds Inf/, file: shard,
    setup: (m) => poke(m, 'lm/layers.0/self_attn/q_proj/weight', 40, Number.NEGATIVE_INFINITY),
  },
  {
    name: 'NaN weight', expect: /"lm\/layers.0\/mlp\/up_proj\/weight" holds NaN/, file: shard,
    setup: (m) => {
      const j = JSON.parse(readFileSync(modelJson(m), 'utf8'));
      let offset = 0;
      for (const w of j.weightsManifest[0].weights) {
        if (w.name === 'lm/layers.0/mlp/up_proj/weight') break;
        offset += w.shape.reduce((a: number, b: number) => a * b, 1) * 4;
      }
      const buf = readFileSync(shard(m));
      buf.writeFloatLE(Number.NaN, offset + 12);
      writeFileSync(shard(m), buf);
    },
  },
  {
    name: 'unsupported op', expect: /node "lm\/layers.0\/mlp\/Sigmoid": op Swish is not supported/, file: () => 'lm/layers.0/mlp/Sigmoid',
    setup: (m) => editJson(modelJson(m), (j) => { j.modelTopology.node.find((n: { name: string }) => n.name === 'lm/layers.0/mlp/Sigmoid').op = 'Swish'; }),
  },
  { name: 'missing calibration image', setup: (_m, c) => writeFileSync(join(c, 'manifest.jsonl'), '{"image":"gone.png","caption":"a red circle"}\n'), expect: /cannot read calibration image \(file not found\)/, file: (_m, c) => join(c, 'gone.png') },
  { name: 'calibration image path escaping the calibration directory', setup: (_m, c) => writeFileSync(join(c, 'manifest.jsonl'), '{"image":"../outside.png","caption":"a red circle"}\n'), expect: /image path "..\/outside.png" climbs out with '..'/, file: (_m, c) => join(c, 'manifest.jsonl') },
  { name: 'malformed calibration manifest line', setup: (_m, c) => writeFileSync(join(c, 'manifest.jsonl'), '{"image":"000.png","caption":"a red circle"}\n{"image": \n'), expect: /manifest.jsonl:2: malformed JSON/, file: (_m, c) => join(c, 'manifest.jsonl') },
  { name: 'activation bits with a float graph (would silently drop activation quantization)', setup: () => ['--w-bits', '4', '--a-bits', '8', '--emit', 'float'], expect: /--emit float with --a-bits 8: .*cannot quantize activations/, file: () => '--a-bits' },
  { name: 'activation bits the quantized op does not support', setup: () => ['--w-bits', '4', '--a-bits', '4'], expect: /--a-bits 4 with --w-bits 4: the MbqQuantizedMatMul op cannot run them \(actBits must be 0 \(float\) or 8/, file: () => '--a-bits' },
  { name: 'weight bits below range', setup: () => ['--w-bits', '1'], expect: /--w-bits must be an integer from 2 to 8, got 1/, file: () => '--w-bits' },
  { name: 'group size that does not divide K', setup: () => ['--group-size', '48'], expect: /--group-size 48 does not divide K = 64/, file: () => 'layers.0' },
  { name: 'scale family on a method without a search', setup: () => ['--method', 'rtn', '--scale-family', 'smoothquant'], expect: /--scale-family smoothquant chooses the candidates of the awq\/mbq alpha search; --method rtn does not search/, file: () => '--scale-family' },
  { name: 'loss with awq (always the uniform MSE)', setup: () => ['--method', 'awq', '--loss', 'mse'], expect: /--loss mse chooses MBQ's modality-weighted reconstruction loss; --method awq always uses the uniform MSE/, file: () => '--loss' },
  { name: 'loss with rtn', setup: () => ['--method', 'rtn', '--loss', 'mae'], expect: /--loss mae chooses MBQ's .*; --method rtn does not use it/, file: () => '--loss' },
  { name: 'bits out of range', setup: () => ['--w-bits', '9'], expect: /--w-bits must be an integer from 2 to 8, got 9/, file: () => '--w-bits' },
  { name: 'empty calibration set', setup: (_m, c) => writeFileSync(join(c, 'manifest.jsonl'), '\n'), expect: /calibration set is empty/, file: (_m, c) => join(c, 'manifest.jsonl') },
  {
    name: 'corrupt calibration image', expect: /cannot read calibration image \(not a PNG or JPEG image\)/, file: (_m, c) => join(c, 'bad.png'),
    setup: (_m, c) => { writeFileSync(join(c, 'bad.png'), Buffer.from('not a png at all')); writeFileSync(join(c, 'manifest.jsonl'), '{"image":"bad.png","caption":"a red circle"}\n'); },
  },
  {
    name: 'caption with an unknown word', expect: /word "zebra" is not in the tokenizer's vocabulary/, file: (_m, c) => join(c, 'manifest.jsonl'),
    setup: (_m, c) => writeFileSync(join(c, 'manifest.jsonl'), '{"image":"000.png","caption":"a zebra"}\n'),
  },
];

describe.each(cases)('$name', (c) => {
  test('fails cleanly', async () => {
    const model = copyModel();
    const calib = join(mkdtempSync(join(tmpdir(), 'mbq-calib-')), 'calib');
    cpSync(CALIB, calib, { recursive: true });
    const extra = c.setup(model, calib) ?? [];
    const before = hashDir(model);
    const parent = mkdtempSync(join(tmpdir(), 'mbq-badout-'));
    const out = join(parent, 'out');
    const { code, stderr } = await runCli(['convert', model, '--calib', calib, '--out', out, '--samples', '2', '--backend', 'cpu', '--no-progress', ...extra]);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(c.expect);
    expect(stderr).toContain(c.file(model, calib));
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(parent)).toEqual([]); // no temporary sibling either
    expect(hashDir(model)).toBe(before);
  });
});

test('an output path equal to or inside the input is refused', async () => {
  const model = copyModel();
  const before = hashDir(model);
  for (const out of [model, join(model, 'q'), join(model, '..')]) {
    const { code, stderr } = await runCli(['convert', model, '--calib', CALIB, '--out', out, '--samples', '2', '--backend', 'cpu', '--no-progress']);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/output path .* (is the input directory|is inside the input directory|contains the input directory)/);
  }
  expect(existsSync(join(model, 'q'))).toBe(false);
  expect(hashDir(model)).toBe(before);
});

test('an unwritable output location fails with a write error and leaves nothing', async () => {
  // A regular file where the output's parent directory should be (chmod is no guard when tests run as root).
  const model = copyModel();
  const parent = mkdtempSync(join(tmpdir(), 'mbq-ro-'));
  writeFileSync(join(parent, 'file'), 'x');
  const { code, stderr } = await runCli(['convert', model, '--calib', CALIB, '--out', join(parent, 'file', 'q'), '--samples', '2', '--backend', 'cpu', '--no-progress']);
  expect(code).not.toBe(0);
  expect(stderr).toContain(`${join(parent, 'file')}: cannot write output`);
  expect(readdirSync(parent)).toEqual(['file']);
});

test('an existing non-empty output directory is refused without --overwrite and left as it was', async () => {
  const model = copyModel();
  const out = mkdtempSync(join(tmpdir(), 'mbq-existing-'));
  writeFileSync(join(out, 'notes.txt'), 'keep me');
  const { code, stderr } = await runCli(['convert', model, '--calib', CALIB, '--out', out, '--samples', '2', '--backend', 'cpu', '--no-progress']);
  expect(code).not.toBe(0);
  expect(stderr).toContain(`output path ${out} is not empty (notes.txt); choose an empty or new directory, or give --overwrite`);
  expect(readdirSync(out)).toEqual(['notes.txt']);
});

test('a calibration manifest with a UTF-8 byte order mark and CRLF line ends loads like the plain one', async () => {
  const m = await loadModelDir(base);
  const tok = loadTokenizer(m.tokenizer, join(base, 'tokenizer.json'));
  const dir = mkdtempSync(join(tmpdir(), 'mbq-bom-'));
  const lines = readFileSync(join(CALIB, 'manifest.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').slice(0, 3);
  for (const f of ['000.png', '001.png', '002.png']) cpSync(join(CALIB, f), join(dir, f));
  writeFileSync(join(dir, 'manifest.jsonl'), `${lines.join('\n')}\n`);
  const plain = await loadCalibration(dir, tok, m.mbq);
  writeFileSync(join(dir, 'manifest.jsonl'), `\uFEFF${lines.join('\r\n')}\r\n`);
  const bom = await loadCalibration(dir, tok, m.mbq);
  expect(bom.samples).toHaveLength(3);
  expect(bom.samples.map((x) => Array.from(x.inputIds))).toEqual(plain.samples.map((x) => Array.from(x.inputIds)));
  // A BOM anywhere else is still an error that names the line.
  writeFileSync(join(dir, 'manifest.jsonl'), `${lines[0]}\n\uFEFF${lines[1]}\n`);
  await expect(loadCalibration(dir, tok, m.mbq)).rejects.toThrow(/manifest.jsonl:2: malformed JSON/);
});
