/**
 * `tfjs-mbq import`: a Hugging Face checkpoint in, a model directory out; float16 storage is the
 * exact half rounding of the float32 import; the decoder in the converter's fused ops unless
 * --no-fuse, merged weights the concatenation of the plain ones; bad input exits 1 with one line
 * naming the file and writes nothing.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { floatToHalfBits, halfToFloat } from '@tfjs-mbq/importer';
import { runCli } from './helpers/run_cli.js';

const HF = join(process.cwd(), 'fixtures/hf');
const roots: string[] = [];
beforeAll(async () => { await initBackend('cpu'); });
afterAll(() => { for (const d of roots) rmSync(d, { recursive: true, force: true }); });
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'mbq-import-'));
  roots.push(d);
  return d;
}

interface ModelJsonLite { weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }> }

/** Every weight of a model directory, decoded by tfjs itself (float16 -> float32 included). */
function weightsOf(dir: string): Map<string, Float32Array | Int32Array> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJsonLite;
  const bytes = Buffer.concat(json.weightsManifest[0]!.paths.map((p) => readFileSync(join(dir, p))));
  const decoded = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), json.weightsManifest[0]!.weights);
  const out = new Map<string, Float32Array | Int32Array>();
  for (const [k, t] of Object.entries(decoded)) out.set(k, t.dataSync() as Float32Array | Int32Array);
  tf.dispose(Object.values(decoded));
  return out;
}

test('imports float32 and float16 (the exact half rounding), shards of the requested size, tokenizer and processor files copied', async () => {
  const dir = scratch();
  const f32 = await runCli(['import', join(HF, 'llava-1.5-tiny-tf4'), '--out', join(dir, 'f32'), '--no-progress']);
  expect(f32.code).toBe(0);
  expect(f32.stdout).toMatch(/imported LlavaForConditionalGeneration: 46 weights, .* 9 image tokens at offset 3\nfused: 2 attention, \d+ RMSNorm \(4 with the residual add\), 2 SiLU gate; 4 linear groups merged; \d+ -> \d+ nodes\n/);
  const f16 = await runCli(['import', join(HF, 'llava-1.5-tiny-tf4'), '--out', join(dir, 'f16'), '--dtype', 'float16', '--weight-shard-size-bytes', '65536', '--no-progress']);
  expect(f16.code).toBe(0);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.json', 'preprocessor_config.json', 'processor_config.json', 'mbq.json', 'model.json']) {
    expect(existsSync(join(dir, 'f16', f))).toBe(true);
  }
  expect(readFileSync(join(dir, 'f16', 'tokenizer.json'))).toEqual(readFileSync(join(HF, 'llava-1.5-tiny-tf4', 'tokenizer.json')));
  const shards = readdirSync(join(dir, 'f16')).filter((f) => f.endsWith('.bin')).map((f) => readFileSync(join(dir, 'f16', f)).length);
  expect(shards.length).toBeGreaterThan(1);
  expect(Math.max(...shards)).toBeLessThanOrEqual(65536);
  const a = weightsOf(join(dir, 'f32'));
  const b = weightsOf(join(dir, 'f16'));
  expect([...b.keys()]).toEqual([...a.keys()]);
  const q = JSON.parse(readFileSync(join(dir, 'f16', 'model.json'), 'utf8')) as ModelJsonLite;
  const halfStored = new Set(q.weightsManifest[0]!.weights.filter((w) => w.quantization?.dtype === 'float16').map((w) => w.name));
  expect(halfStored.has('lm/layers.0/self_attn/concat_heads/qkv/weight')).toBe(true); // merged from half-stored parts
  expect(halfStored.has('lm/rope/cos_table')).toBe(false); // tables the graph adds stay float32
  for (const [name, values] of a) {
    const got = b.get(name)!;
    const want = halfStored.has(name) ? Float32Array.from(values, (v) => halfToFloat(floatToHalfBits(v))) : values;
    expect(Array.from(got)).toEqual(Array.from(want));
  }
});

test('--no-fuse: the plain graph; the fused import\'s merged q/k/v and gate/up weights are the plain ones side by side', async () => {
  const dir = scratch();
  const args = (out: string, ...more: string[]): string[] => ['import', join(HF, 'llava-1.5-tiny'), '--out', join(dir, out), '--no-progress', ...more];
  const [plain, fused] = [await runCli(args('plain', '--no-fuse')), await runCli(args('fused'))];
  expect([plain.code, fused.code]).toEqual([0, 0]);
  expect(plain.stdout).not.toMatch(/fused:/);
  const ops = (out: string): string[] => (JSON.parse(readFileSync(join(dir, out, 'model.json'), 'utf8')) as { modelTopology: { node: Array<{ op: string }> } }).modelTopology.node.map((n) => n.op);
  expect(ops('plain').filter((op) => op.startsWith('Mbq'))).toEqual([]);
  expect(new Set(ops('fused').filter((op) => op.startsWith('Mbq')))).toEqual(new Set(['MbqRmsNorm', 'MbqAddRmsNorm', 'MbqRopeAppendKv', 'MbqAttention', 'MbqSiluGate']));
  const p = weightsOf(join(dir, 'plain')), f = weightsOf(join(dir, 'fused'));
  // [K, N] weights side by side along N: q, k, v -> qkv; gate, up -> gate_up.
  const sideBySide = (names: string[]): number[] => {
    const parts = names.map((n) => p.get(n)!);
    const K = 64;
    const out: number[] = [];
    for (let k = 0; k < K; k++) for (const w of parts) { const n = w.length / K; out.push(...w.subarray(k * n, (k + 1) * n)); }
    return out;
  };
  for (const l of [0, 1]) {
    const at = `lm/layers.${l}`;
    expect(Array.from(f.get(`${at}/self_attn/concat_heads/qkv/weight`)!)).toEqual(sideBySide(['q', 'k', 'v'].map((x) => `${at}/self_attn/${x}_proj/weight`)));
    expect(Array.from(f.get(`${at}/mlp/act_mul/gate_up/weight`)!)).toEqual(sideBySide(['gate', 'up'].map((x) => `${at}/mlp/${x}_proj/weight`)));
    expect(f.has(`${at}/self_attn/q_proj/weight`)).toBe(false);
  }
  for (const [name, values] of f) if (p.has(name)) expect(values).toEqual(p.get(name));
});

test('imports Qwen2-VL for the resized image size --image-size names', async () => {
  const dir = scratch();
  const r = await runCli(['import', join(HF, 'qwen2-vl-tiny'), '--out', join(dir, 'q'), '--image-size', '84x84', '--no-progress']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/imported Qwen2VLForConditionalGeneration: .* 9 image tokens at offset 17/);
  expect(JSON.parse(readFileSync(join(dir, 'q', 'mbq.json'), 'utf8'))).toMatchObject({ imageSize: [84, 84], imageInput: { kind: 'qwen2-vl', gridThw: [1, 6, 6] } });
});

describe('bad input: exit 1, one line naming the file, nothing written', () => {
  function copyOf(name: string): string {
    const d = join(scratch(), name);
    cpSync(join(HF, name), d, { recursive: true });
    rmSync(join(d, 'records'), { recursive: true, force: true });
    return d;
  }
  const cases: Array<[string, () => string, (hf: string) => RegExp]> = [
    ['an architecture that is not supported', () => {
      const d = copyOf('qwen2-vl-tiny');
      const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as { architectures: string[] };
      c.architectures = ['MllamaForConditionalGeneration'];
      writeFileSync(join(d, 'config.json'), JSON.stringify(c));
      return d;
    }, (hf) => new RegExp(`${hf}/config.json: architecture MllamaForConditionalGeneration is not supported \\(supported: LlavaForConditionalGeneration, LlavaOnevisionForConditionalGeneration, Qwen2VLForConditionalGeneration\\)`)],
    ['a Qwen2-VL image size that is not a multiple of patch x merge', () => join(HF, 'qwen2-vl-tiny'), () => /--image-size 80x80 must be multiples of 28/],
    ['a missing tokenizer.json', () => { const d = copyOf('llava-1.5-tiny'); rmSync(join(d, 'tokenizer.json')); return d; }, (hf) => new RegExp(`${hf}/tokenizer.json: file not found\\n`)],
    ['a truncated safetensors shard', () => { const d = copyOf('llava-1.5-tiny-tf4'); const f = join(d, 'model-00002-of-00002.safetensors'); truncateSync(f, 100_000); return d; }, (hf) => new RegExp(`${hf}/model-00002-of-00002.safetensors: .*truncated`)],
    ['a tensor shape that disagrees with config.json', () => {
      const d = copyOf('llava-1.5-tiny');
      const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as { text_config: { intermediate_size: number } };
      c.text_config.intermediate_size = 96;
      writeFileSync(join(d, 'config.json'), JSON.stringify(c));
      return d;
    }, (hf) => new RegExp(`${hf}/model.safetensors: tensor 'language_model.model.layers.0.mlp.gate_proj.weight' has shape \\[128, 64\\] but config.json implies \\[96, 64\\]`)],
    ['a tensor the index does not list', () => {
      const d = copyOf('llava-1.5-tiny-tf4');
      const idx = join(d, 'model.safetensors.index.json');
      const j = JSON.parse(readFileSync(idx, 'utf8')) as { weight_map: Record<string, string> };
      delete j.weight_map['language_model.model.norm.weight'];
      writeFileSync(idx, JSON.stringify(j));
      return d;
    }, (hf) => new RegExp(`${hf}/model.safetensors.index.json: tensor 'language_model.model.norm.weight' is missing`)],
  ];
  it.each(cases)('%s', async (_, make, message) => {
    const hf = make();
    const out = join(scratch(), 'out');
    const r = await runCli(['import', hf, '--out', out, '--no-progress', ...(hf.endsWith('qwen2-vl-tiny') ? ['--image-size', '80x80'] : [])]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message(hf));
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(join(out, '..'))).toEqual([]);
  });
});
