/**
 * The KV step planner and MbqAddRmsNorm's two outputs [y, sum]: in the step both take the node's
 * row form (`kv_step/<node>:1` for the sum), and a step that would read the sum of an image-only
 * node (captured at prefill by name, i.e. output 0) is refused, so loading falls back to re-running.
 * MbqRopeAppendKv's outputs 1 and 2 (k, v) become the caches: its step node takes them as inputs.
 */
import type { NodeDefJson } from '../src/model_files.js';
import { ConstValues } from '../src/decoding/kv/const_values.js';
import { analyseDependencies, type ProbedNode } from '../src/decoding/kv/graph_info.js';
import { StepGraphPlanner } from '../src/decoding/kv/step_graph.js';

/** step_graph.ts's prefix of the step's node names. */
const STEP_PREFIX = 'kv_step/';
const S = 5;
const C = 4;
const F = { T: { type: 'DT_FLOAT' as const } };
const constant = (name: string, dtype: 'DT_FLOAT' | 'DT_INT32'): NodeDefJson => ({ name, op: 'Const', attr: { dtype: { type: dtype } } });

/** input_ids -> emb = GatherV2(table, ids); vis = MbqAddRmsNorm(pixels, pixels, gamma) (image-only); `tail` reads them. */
function planner(tail: NodeDefJson[], shapes: Record<string, [number[], number[]]>): StepGraphPlanner {
  const nodes: NodeDefJson[] = [
    { name: 'pixel_values', op: 'Placeholder' },
    { name: 'input_ids', op: 'Placeholder' },
    constant('table', 'DT_FLOAT'), constant('axis', 'DT_INT32'), constant('gamma', 'DT_FLOAT'),
    { name: 'emb', op: 'GatherV2', input: ['table', 'input_ids', 'axis'] },
    { name: 'vis', op: 'MbqAddRmsNorm', input: ['pixel_values', 'pixel_values', 'gamma'], attr: { ...F, eps: { f: 1e-6 } } },
    ...tail,
  ];
  const all: Record<string, [number[], number[]]> = {
    pixel_values: [[1, 1, C], [1, 1, C]], input_ids: [[1, S], [1, S + 1]], table: [[10, C], [10, C]], axis: [[], []], gamma: [[C], [C]],
    emb: [[1, S, C], [1, S + 1, C]], vis: [[1, 1, C], [1, 1, C]], ...shapes,
  };
  const info = new Map<string, ProbedNode>();
  for (const [name, d] of analyseDependencies(nodes)) {
    const [s1, s2] = all[name]!;
    info.set(name, { ...d, shape1: s1, shape2: s2, dtype: name === 'input_ids' || name === 'axis' ? 'int32' : 'float32' });
  }
  const consts = new ConstValues([{ name: 'axis', shape: [], dtype: 'int32' }], [Int32Array.of(0).buffer]);
  return new StepGraphPlanner(info, consts, [...info.keys()]);
}

test('both outputs of a dynamic MbqAddRmsNorm are rows of the step node', () => {
  const p = planner([
    { name: 'n', op: 'MbqAddRmsNorm', input: ['emb', 'emb', 'gamma'], attr: { ...F, eps: { f: 1e-6 } } },
    { name: 'logits', op: 'AddV2', input: ['n:1', 'n'], attr: F },
  ], { n: [[1, S, C], [1, S + 1, C]], logits: [[1, S, C], [1, S + 1, C]] });
  const step = p.plan('logits');
  const logits = step.nodes.find((n) => n.name === `${STEP_PREFIX}logits`)!;
  expect(logits.input).toEqual([`${STEP_PREFIX}n:1`, `${STEP_PREFIX}n`]);
  expect(step.nodes.find((n) => n.name === `${STEP_PREFIX}n`)!.op).toBe('MbqAddRmsNorm');
  expect(step.fullNodes).toEqual(['input_ids']);
});

test("an image-only node's output 0 is fed from the prefill; its output 1 is refused, naming the node", () => {
  const shapes: Record<string, [number[], number[]]> = { logits: [[1, S, C], [1, S + 1, C]] };
  const ok = planner([{ name: 'logits', op: 'AddV2', input: ['emb', 'vis'], attr: F }], shapes).plan('logits');
  expect(ok.frontier).toEqual(['vis']);
  expect(() => planner([{ name: 'logits', op: 'AddV2', input: ['emb', 'vis:1'], attr: F }], shapes).plan('logits'))
    .toThrow("the step would read output 1 of the image-only node 'vis'; prefill values are fed by node name (output 0)");
});

test('MbqRopeAppendKv: its step node appends to the caches it takes as inputs; outputs 1 and 2 are the caches, no concat', () => {
  const [H, KV, d] = [2, 1, 2];
  const W = (H + 2 * KV) * d;
  const seq = (shape: (s: number) => number[]): [number[], number[]] => [shape(S), shape(S + 1)];
  const attrs = { ...F, heads: { i: String(H) }, kv_heads: { i: String(KV) }, head_dim: { i: String(d) } };
  const p = planner([
    constant('w', 'DT_FLOAT'), constant('ctab', 'DT_FLOAT'),
    { name: 'qkv', op: 'MatMul', input: ['emb', 'w'], attr: F },
    { name: 'cos', op: 'GatherV2', input: ['ctab', 'input_ids', 'axis'] },
    { name: 'mask', op: 'SomeMaskOp', input: ['input_ids'] },
    { name: 'rk', op: 'MbqRopeAppendKv', input: ['qkv', 'cos', 'cos'], attr: attrs },
    { name: 'att', op: 'MbqAttention', input: ['rk', 'rk:1', 'rk:2', 'mask'], attr: { ...F, heads: { i: String(H) }, kv_heads: { i: String(KV) }, head_dim: { i: String(d) }, scale: { f: 0.5 } } },
    { name: 'logits', op: 'Identity', input: ['att'], attr: F },
  ], {
    w: [[C, W], [C, W]], ctab: [[10, d], [10, d]], qkv: seq((s) => [1, s, W]), cos: seq((s) => [1, s, d]), mask: seq((s) => [s, s]),
    rk: seq((s) => [1, s, H * d]), att: seq((s) => [1, s, H * d]), logits: seq((s) => [1, s, H * d]),
  });
  const step = p.plan('logits');
  const node = (name: string): NodeDefJson => step.nodes.find((n) => n.name === `${STEP_PREFIX}${name}`)!;
  expect(step.caches.map((c) => [c.node, c.axis, c.present])).toEqual([['rk:1', 1, `${STEP_PREFIX}rk:1`], ['rk:2', 1, `${STEP_PREFIX}rk:2`]]);
  const [kPast, vPast] = step.caches.map((c) => c.past);
  expect(node('rk')).toMatchObject({ op: 'MbqRopeAppendKv', input: [`${STEP_PREFIX}qkv`, `${STEP_PREFIX}cos`, `${STEP_PREFIX}cos`, kPast, vPast] });
  expect(step.nodes.find((n) => n.name === kPast)).toMatchObject({ op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '1' }, { size: '-1' }, { size: String(KV * d) }] } } } });
  expect(node('att').input).toEqual([`${STEP_PREFIX}rk`, `${STEP_PREFIX}rk:1`, `${STEP_PREFIX}rk:2`, `${STEP_PREFIX}row/mask/axis0`]);
  expect(step.nodes.filter((n) => n.op === 'ConcatV2')).toEqual([]);
  expect(p.heavyFullNodes(step)).toEqual([]);
});
