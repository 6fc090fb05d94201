/**
 * Issue 6 §2: property-based fuzzing of model directories. A valid synthetic VLM directory
 * (model.json in two weight groups of several shards, config.json, tokenizer.json, mbq.json) is
 * damaged by fast-check: JSON edits anywhere, targeted weight-manifest edits (shapes, dtypes,
 * escaping paths, names), shard files cut, grown, removed or replaced by links, and broken text.
 * Each case must load, or throw a ConversionError naming the file; never another exception, never
 * a hang, and the directory (and its parent) must be byte-for-byte unchanged afterwards. When the
 * damaged model still loads, graph analysis must also succeed or throw a ConversionError.
 */
import { promises as fs, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { loadModelDir, analyseGraph, ConversionError, type ModelJson } from '@tfjs-mbq/converter';
import { findModelIo } from '../src/graph/model_io.js';
import { writeSyntheticModel } from './helpers/synthetic.js';
import {
  applyEdit, damage, expectSuccessOrTypedError, fuzzParams, jsonEdit, nastyValue, removeCase, snapshot, textDamage, writeCase,
  type FileSet, type Json, type JsonEdit, type TextDamage,
} from './fuzz_util.js';

let base: FileSet;
let baseModel: ModelJson;
/** Outside the model directory, next to it: a file an escaping path could reach. */
const OUTSIDE_NAME = 'outside.bin';

/** Splits the manifest into two groups of small shards, so that paths and sizes have more to break. */
async function buildBase(): Promise<void> {
  const dir = await writeSyntheticModel({ layers: 1, seed: 5 }, mkdtempSync(path.join(tmpdir(), 'mbq-fuzz-base-')));
  const model = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8')) as ModelJson;
  const bytes = Buffer.concat(await Promise.all(model.weightsManifest[0].paths.map((p) => fs.readFile(path.join(dir, p)))));
  const entries = model.weightsManifest.flatMap((g) => g.weights);
  const half = Math.floor(entries.length / 2);
  const size = (w: { shape: number[] }): number => w.shape.reduce((a, b) => a * b, 1) * 4;
  const split = entries.slice(0, half).reduce((a, w) => a + size(w), 0);
  const files: FileSet = new Map();
  const groups = [
    { weights: entries.slice(0, half), data: bytes.subarray(0, split), prefix: 'group1' },
    { weights: entries.slice(half), data: bytes.subarray(split), prefix: 'weights/group2' },
  ];
  model.weightsManifest = groups.map((g) => {
    const shardBytes = Math.ceil(g.data.length / 3);
    const paths: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = `${g.prefix}-shard${i + 1}of3.bin`;
      paths.push(p);
      files.set(p, Buffer.from(g.data.subarray(i * shardBytes, Math.min(g.data.length, (i + 1) * shardBytes))));
    }
    return { paths, weights: g.weights };
  });
  files.set('model.json', Buffer.from(JSON.stringify(model)));
  for (const f of ['config.json', 'tokenizer.json', 'mbq.json']) files.set(f, await fs.readFile(path.join(dir, f)));
  await fs.rm(dir, { recursive: true, force: true });
  base = files;
  baseModel = model;
}

type ModelMutation =
  | { kind: 'json'; edits: JsonEdit[] }
  | { kind: 'text'; file: string; damage: TextDamage }
  | { kind: 'shape'; group: number; weight: number; shape: Json }
  | { kind: 'dtype'; group: number; weight: number; dtype: Json }
  | { kind: 'path'; group: number; index: number; value: string }
  | { kind: 'name'; group: number; weight: number; other: number }
  | { kind: 'constAttr'; node: number; edit: JsonEdit }
  | { kind: 'shard'; group: number; index: number; action: 'delete' | 'dir' | 'linkOutside' | 'linkInside' | 'empty'; }
  | { kind: 'shardSize'; group: number; index: number; delta: number }
  | { kind: 'sidecar'; file: 'config.json' | 'tokenizer.json' | 'mbq.json'; edit: JsonEdit | null }
  | { kind: 'constShape'; node: number; dim: Json }
  | { kind: 'graph'; node: number; other: number; action: 'inputMissing' | 'inputSelf' | 'inputOther' | 'inputPort' | 'dropInput' | 'op' | 'remove' | 'control'; op: string };

const ESCAPING_PATHS = [
  `../${OUTSIDE_NAME}`, `weights/../../${OUTSIDE_NAME}`, './../outside.bin', '/etc/hostname', '/dev/zero', '/dev/urandom',
  'file:///etc/passwd', 'http://example.invalid/x.bin', 'C:\\x.bin', '\\\\server\\share\\x.bin', '', '.', './', 'weights',
  'weights/', 'model.json', 'group1-shard1of3.bin', 'x\u0000y.bin', 'a'.repeat(300), '%2e%2e/outside.bin', 'no-such.bin', '~/x.bin',
];

function mutationArb(model: ModelJson): fc.Arbitrary<ModelMutation> {
  const groupCount = model.weightsManifest.length;
  const nodeCount = model.modelTopology.node.length;
  const gi = fc.nat({ max: groupCount - 1 });
  const wi = fc.nat({ max: 10_000 });
  const shardIndex = fc.nat({ max: 2 });
  const jsonFile = fc.constantFrom('model.json', 'config.json', 'tokenizer.json', 'mbq.json');
  return fc.oneof(
    fc.record({ kind: fc.constant('json' as const), edits: fc.array(jsonEdit, { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant('text' as const), file: jsonFile, damage: textDamage }),
    fc.record({
      kind: fc.constant('shape' as const), group: gi, weight: wi,
      shape: fc.oneof(
        fc.array(fc.integer({ min: -2, max: 300 }), { maxLength: 4 }) as fc.Arbitrary<Json>,
        fc.constantFrom<Json>([2 ** 31, 2 ** 31], [1e308], [0.5], [Number.MAX_SAFE_INTEGER], ['64'], null, 'x', 7, [[64]]),
        nastyValue,
      ),
    }),
    fc.record({
      kind: fc.constant('dtype' as const), group: gi, weight: wi,
      dtype: fc.oneof(fc.constantFrom<Json>('float32', 'int32', 'bool', 'float16', 'uint8', 'complex64', 'string', 'FLOAT32', ''), nastyValue),
    }),
    fc.record({ kind: fc.constant('path' as const), group: gi, index: shardIndex, value: fc.oneof(fc.constantFrom(...ESCAPING_PATHS), fc.string({ maxLength: 20 })) }),
    fc.record({ kind: fc.constant('name' as const), group: gi, weight: wi, other: wi }),
    fc.record({
      kind: fc.constant('constAttr' as const), node: fc.nat({ max: nodeCount - 1 }),
      edit: fc.oneof(
        fc.record({ kind: fc.constant('set' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), value: nastyValue }),
        fc.record({ kind: fc.constant('delete' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }) }),
      ),
    }),
    fc.record({ kind: fc.constant('shard' as const), group: gi, index: shardIndex, action: fc.constantFrom('delete' as const, 'dir' as const, 'linkOutside' as const, 'linkInside' as const, 'empty' as const) }),
    fc.record({ kind: fc.constant('shardSize' as const), group: gi, index: shardIndex, delta: fc.oneof(fc.integer({ min: -64, max: 64 }), fc.constantFrom(-1, 1, -4, 4)) }),
    fc.record({
      kind: fc.constant('constShape' as const), node: fc.nat({ max: nodeCount - 1 }),
      dim: fc.oneof(fc.constantFrom<Json>([null], 5, 'x', [{}], [{ size: null }], [{ size: '-1' }], [{ size: 'abc' }], [[]], [{ size: 1e308 }], {}), nastyValue),
    }),
    fc.record({
      kind: fc.constant('graph' as const), node: fc.nat({ max: nodeCount - 1 }), other: fc.nat({ max: nodeCount - 1 }),
      action: fc.constantFrom('inputMissing' as const, 'inputSelf' as const, 'inputOther' as const, 'inputPort' as const, 'dropInput' as const, 'op' as const, 'remove' as const, 'control' as const),
      op: fc.constantFrom('MatMul', 'BatchMatMulV2', 'Mul', 'AddV2', 'Rsqrt', 'Reshape', 'Const', 'Placeholder', 'Identity', 'NoOp', 'GatherV2', 'Softmax', 'Transpose', 'StridedSlice', 'ConcatV2', 'Bogus', ''),
    }),
    fc.record({ kind: fc.constant('sidecar' as const), file: fc.constantFrom('config.json' as const, 'tokenizer.json' as const, 'mbq.json' as const), edit: fc.option(jsonEdit, { nil: null }) }),
  );
}

/** The damaged file set and the files placed next to the model directory. */
function applyMutation(m: ModelMutation): { files: FileSet; outside: FileSet } {
  const files: FileSet = new Map(base);
  const outside: FileSet = new Map([[OUTSIDE_NAME, Buffer.alloc(4096, 7)]]);
  const model = JSON.parse(JSON.stringify(baseModel)) as ModelJson & { [k: string]: Json };
  const group = (g: number) => model.weightsManifest[g % model.weightsManifest.length];
  const weight = (g: number, w: number) => group(g).weights[w % group(g).weights.length] as unknown as { [k: string]: Json };
  let modelText: Buffer | null = null;
  switch (m.kind) {
    case 'json': {
      let j = model as unknown as Json;
      for (const e of m.edits) j = applyEdit(j, e);
      modelText = Buffer.from(JSON.stringify(j) ?? '');
      break;
    }
    case 'text': files.set(m.file, damage(base.get(m.file) as Buffer, m.damage)); break;
    case 'shape': weight(m.group, m.weight).shape = m.shape; break;
    case 'dtype': weight(m.group, m.weight).dtype = m.dtype; break;
    case 'path': group(m.group).paths[m.index % group(m.group).paths.length] = m.value; break;
    case 'name': weight(m.group, m.weight).name = weight(m.group, m.other).name === weight(m.group, m.weight).name ? 'renamed/no_such_const' : weight(m.group, m.other).name; break;
    case 'constAttr': {
      const nodes = model.modelTopology.node;
      const n = nodes[m.node % nodes.length] as unknown as Json;
      nodes[m.node % nodes.length] = applyEdit({ attr: (n as { attr?: Json }).attr ?? {} } as Json, { ...m.edit, at: [0, ...m.edit.at] }) as never;
      (nodes[m.node % nodes.length] as unknown as { name: string; op: string }).name = (n as { name: string }).name;
      (nodes[m.node % nodes.length] as unknown as { name: string; op: string; input?: string[] }).op = (n as { op: string }).op;
      if ((n as { input?: string[] }).input) (nodes[m.node % nodes.length] as unknown as { input?: string[] }).input = (n as { input: string[] }).input;
      break;
    }
    case 'shard': {
      const p = group(m.group).paths[m.index];
      if (m.action === 'delete') files.delete(p);
      else if (m.action === 'dir') files.set(p, null);
      else if (m.action === 'empty') files.set(p, Buffer.alloc(0));
      else if (m.action === 'linkOutside') { files.set(p, { link: path.join('..', ...Array(p.split('/').length - 1).fill('..'), OUTSIDE_NAME) }); }
      else files.set(p, { link: path.basename(p) === p ? 'config.json' : '../config.json' });
      break;
    }
    case 'shardSize': {
      const p = group(m.group).paths[m.index];
      const b = base.get(p) as Buffer;
      files.set(p, m.delta < 0 ? b.subarray(0, Math.max(0, b.length + m.delta)) : Buffer.concat([b, Buffer.alloc(m.delta, 1)]));
      break;
    }
    case 'constShape': {
      const consts = model.modelTopology.node.filter((n) => n.op === 'Const');
      const n = consts[m.node % consts.length] as unknown as { attr: { value: { tensor: { tensorShape: { dim: Json } } } } };
      n.attr.value.tensor.tensorShape.dim = m.dim;
      break;
    }
    case 'graph': {
      const nodes = model.modelTopology.node;
      const n = nodes[m.node % nodes.length];
      const other = nodes[m.other % nodes.length];
      const inputs = n.input ?? [];
      const at = inputs.length ? m.other % inputs.length : 0;
      if (m.action === 'inputMissing') n.input = [...inputs.slice(0, at), 'no/such/node', ...inputs.slice(at + 1)];
      else if (m.action === 'inputSelf') n.input = [...inputs, n.name];
      else if (m.action === 'inputOther') n.input = [...inputs.slice(0, at), other.name, ...inputs.slice(at + 1)];
      else if (m.action === 'inputPort') n.input = [...inputs.slice(0, at), `${other.name}:${m.other % 4}`, ...inputs.slice(at + 1)];
      else if (m.action === 'dropInput') n.input = inputs.filter((_, i) => i !== at);
      else if (m.action === 'op') n.op = m.op;
      else if (m.action === 'control') n.input = [...inputs, `^${other.name}`];
      else nodes.splice(m.node % nodes.length, 1);
      break;
    }
    case 'sidecar': {
      if (m.edit === null) files.delete(m.file);
      else files.set(m.file, Buffer.from(JSON.stringify(applyEdit(JSON.parse((base.get(m.file) as Buffer).toString('utf8')) as Json, m.edit)) ?? ''));
      break;
    }
  }
  files.set('model.json', modelText ?? (m.kind === 'text' && m.file === 'model.json' ? files.get('model.json') as Buffer : Buffer.from(JSON.stringify(model))));
  return { files, outside };
}

/** Analysis errors name a node rather than a file: any ConversionError is fine, anything else is a bug. */
async function analyseOrTypedError<T>(run: () => T, what: string): Promise<{ ok: true } | { ok: false; error: ConversionError }> {
  try {
    run();
    return { ok: true };
  } catch (e) {
    if (e instanceof ConversionError) return { ok: false, error: e };
    throw new Error(`analysis threw ${(e as Error)?.name}, not a ConversionError, for ${what}: ${(e as Error)?.message}\n${(e as Error)?.stack ?? ''}`);
  }
}

function describe_(m: ModelMutation): string {
  return JSON.stringify(m).slice(0, 400);
}

beforeAll(async () => { await buildBase(); }, 60_000);

test('the undamaged base model loads and analyses (the property below starts from a valid model)', async () => {
  const { parent, dir } = await writeCase('model', base);
  try {
    const m = await loadModelDir(dir);
    expect(m.weights.size).toBe(baseModel.weightsManifest.reduce((a, g) => a + g.weights.length, 0));
    const a = analyseGraph(m.modelJson.modelTopology, m.weights);
    expect(a.blocks.length).toBe(1);
  } finally {
    await removeCase(parent);
  }
});

test('escaping shard paths are refused, even when the target exists', async () => {
  for (const p of [`../${OUTSIDE_NAME}`, '/etc/hostname', `weights/../../${OUTSIDE_NAME}`]) {
    const model = JSON.parse(JSON.stringify(baseModel)) as ModelJson;
    model.weightsManifest[0].paths[0] = p;
    const files: FileSet = new Map(base);
    files.set('model.json', Buffer.from(JSON.stringify(model)));
    const { parent, dir } = await writeCase('model', files, new Map([[OUTSIDE_NAME, Buffer.alloc(64)]]));
    try {
      await expect(loadModelDir(dir)).rejects.toMatchObject({ code: 'WEIGHTS_PATH_ESCAPE' });
    } finally {
      await removeCase(parent);
    }
  }
});

test('regression: a Const whose tensorShape.dim is not a list of {size} is a ConversionError, not a TypeError', async () => {
  for (const dim of [[null], 5, 'x', [[]]] as Json[]) {
    const model = JSON.parse(JSON.stringify(baseModel)) as ModelJson;
    const c = model.modelTopology.node.find((n) => n.op === 'Const' && model.weightsManifest.some((g) => g.weights.some((w) => w.name === n.name)))!;
    (c.attr!.value!.tensor!.tensorShape as unknown as { dim: Json }).dim = dim;
    const files: FileSet = new Map(base);
    files.set('model.json', Buffer.from(JSON.stringify(model)));
    const { parent, dir } = await writeCase('model', files);
    try {
      await expect(loadModelDir(dir)).rejects.toBeInstanceOf(ConversionError);
      await expect(loadModelDir(dir)).rejects.toThrow(path.join(dir, 'model.json'));
    } finally {
      await removeCase(parent);
    }
  }
});

test('fuzz: damaged model directories load or fail with a ConversionError naming the file; input unchanged; no hang', async () => {
  const seen = new Map<string, number>();
  await fc.assert(fc.asyncProperty(mutationArb(baseModel), async (m) => {
    const { files, outside } = applyMutation(m);
    const { parent, dir } = await writeCase('model', files, outside);
    try {
      const before = await snapshot(parent);
      const what = describe_(m);
      const r = await expectSuccessOrTypedError(() => loadModelDir(dir), parent, what);
      let outcome = r.ok ? 'loaded' : r.error.code;
      if (r.ok) {
        // What the converter does next with a model that loaded: analyse its graph.
        const modelFile = path.join(dir, 'model.json');
        const a = await analyseOrTypedError(() => {
          const analysis = analyseGraph(r.value.modelJson.modelTopology, r.value.weights);
          findModelIo(r.value.modelJson.modelTopology, modelFile);
          return analysis;
        }, what);
        outcome = a.ok ? 'analysed' : `analysis:${a.error.code}`;
      }
      seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      expect(await snapshot(parent)).toBe(before);
    } finally {
      await removeCase(parent);
    }
  }), fuzzParams(250));
  // The fuzzer must reach both sides: damage that is refused and damage the loader tolerates.
  const refused = [...seen].filter(([k]) => k !== 'loaded' && k !== 'analysed').reduce((a, [, n]) => a + n, 0);
  expect(refused).toBeGreaterThan(0);
  expect((seen.get('analysed') ?? 0) + (seen.get('loaded') ?? 0) + [...seen.keys()].filter((k) => k.startsWith('analysis:')).length).toBeGreaterThan(0);
  console.log('model fuzz outcomes', Object.fromEntries(seen));
}, 120_000);
