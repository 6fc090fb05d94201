/**
 * Structural analysis of a graph model: finds the linears (matmuls with a constant weight), the
 * groups that share an input, the producer that can absorb each group's channel scale, and the
 * decoder blocks with the module whose output each group's search compares (docs/algorithm.md §4).
 * Node names are used only as labels; the structure comes from the edges.
 */
import { MBQ_QUANTIZED_MATMUL_OP, quantizedMatMulAttrsOfJson } from '@tfjs-mbq/format';
import type { GraphDefJson, NodeDefJson } from './types.js';
import type { WeightMap } from '../io/weights.js';
import { weightInfo } from '../io/lazy_weights.js';
import type { ScaleGroupName } from '../search/types.js';
import { ConversionError } from '../io/errors.js';
import { attrBool, attrString, dataInputs, parseTensorName } from './attrs.js';
import { SUPPORTED_OPS } from './ops.js';

const LINEAR_OPS: ReadonlySet<string> = new Set(['MatMul', 'BatchMatMul', 'BatchMatMulV2', '_FusedMatMul', 'Einsum', MBQ_QUANTIZED_MATMUL_OP]);
/** Ops that only move data around: a channel scale passes through them unchanged. */
const PASS_THROUGH = new Set(['Identity', 'Reshape', 'Transpose', 'Snapshot', 'StopGradient', 'ExpandDims', 'Squeeze']);
/** Ops that select channels (head slices) without mixing them. */
const CHANNEL_SLICES = new Set(['StridedSlice', 'Slice', 'Split', 'SplitV']);

export interface LinearInfo {
  /** The matmul node; also the linear's id everywhere. */
  node: string;
  op: string;
  /** The tensor x of y = x·W. */
  input: string;
  /** The Const node holding W. */
  weightConst: string;
  /** W is stored [K, N] (true: y = x·W) or [N, K] (false: transpose_b). */
  weightKN: boolean;
  K: number;
  N: number;
  /** Const of a fused BiasAdd (_FusedMatMul), if any. */
  biasConst?: string;
  /** Human label from the node name, e.g. "layers.3.q_proj". */
  label: string;
  /** Already an MbqQuantizedMatMul (a converted model): inspectable, not convertible again. */
  quantized?: boolean;
}

export type FoldTarget =
  | { kind: 'gamma'; mulNode: string; gammaConst: string }
  | { kind: 'linear'; linear: string }
  | { kind: 'insert'; tensor: string };

export interface GroupInfo {
  name: ScaleGroupName;
  linears: string[];
  /** The shared input tensor of the linears. */
  input: string;
  fold: FoldTarget;
  /** The linear whose output is the compared module's output (o_proj for attention, down_proj for MLP). */
  outputLinear: string;
}

export interface BlockInfo {
  index: number;
  /** Residual stream tensor entering the block, and leaving it. */
  input: string;
  output: string;
  q: string; k: string; v: string; o: string; gate: string; up: string; down: string;
  groups: GroupInfo[];
  /** All nodes that depend on the block input and feed its output. */
  nodes: string[];
  /** Non-constant tensors read by the block but computed outside it (besides `input`): masks, rotary tables. */
  sideInputs: string[];
}

export interface GraphAnalysis {
  linears: Map<string, LinearInfo>;
  blocks: BlockInfo[];
  /** Graph inputs (Placeholder nodes). */
  inputs: string[];
  /** Linears outside the decoder blocks (vision tower, projector, lm_head): kept float. */
  otherLinears: string[];
  /** Ops present in the graph, with counts. */
  opCounts: Record<string, number>;
}

function refuse(node: string, msg: string): never {
  throw new ConversionError('GRAPH_ANALYSIS', `node "${node}": ${msg}`, node);
}

export class GraphIndex {
  readonly nodes = new Map<string, NodeDefJson>();
  readonly consumers = new Map<string, string[]>(); // tensor -> consumer node names
  constructor(readonly graph: GraphDefJson) {
    for (const n of graph.node) this.nodes.set(n.name, n);
    for (const n of graph.node) {
      for (const t of dataInputs(n)) {
        const list = this.consumers.get(t) ?? [];
        list.push(n.name);
        this.consumers.set(t, list);
      }
    }
  }
  node(name: string): NodeDefJson {
    const n = this.nodes.get(parseTensorName(name).node);
    if (!n) throw new ConversionError('GRAPH_ANALYSIS', `tensor "${name}" has no producing node`, name);
    return n;
  }
  consumersOf(tensor: string): string[] { return this.consumers.get(tensor) ?? []; }
  /** Follows Identity chains back to a Const; undefined if the tensor is not constant. */
  constSource(tensor: string): string | undefined {
    let n = this.nodes.get(parseTensorName(tensor).node);
    while (n && n.op === 'Identity') n = this.nodes.get(parseTensorName(dataInputs(n)[0]).node);
    return n && n.op === 'Const' ? n.name : undefined;
  }
}

function labelOf(name: string): string {
  const parts = name.split('/').filter((p) => p !== 'MatMul' && p !== 'lm' && p !== 'self_attn' && p !== 'mlp');
  return parts.join('.') || name;
}

function shapeOf(weights: WeightMap, g: GraphIndex, constName: string): number[] {
  const w = weightInfo(weights, constName); // a lazy map tells without reading the weight
  if (w) return w.shape;
  const dims = g.nodes.get(constName)?.attr?.value?.tensor?.tensorShape?.dim;
  return (dims ?? []).map((d) => Number(d.size));
}

/** Recognises x·W with a constant W; returns undefined for a matmul of two activations. */
function asLinear(n: NodeDefJson, g: GraphIndex, weights: WeightMap): LinearInfo | undefined {
  const ins = dataInputs(n);
  if (ins.length < 2) return undefined;
  const wConst = g.constSource(ins[1]);
  if (!wConst) {
    if (g.constSource(ins[0])) refuse(n.name, `${n.op} with a constant first operand (W·x) is not supported; expected x·W`);
    return undefined;
  }
  const shape = shapeOf(weights, g, wConst);
  const label = labelOf(n.name);
  if (n.op === MBQ_QUANTIZED_MATMUL_OP) {
    // An already-converted linear: packed codes [N, words]; K from its attribute.
    let K: number;
    try {
      K = quantizedMatMulAttrsOfJson(n.attr, `node "${n.name}"`).inFeatures;
    } catch (e) {
      return refuse(n.name, (e as Error).message.replace(`node "${n.name}": `, ''));
    }
    return { node: n.name, op: n.op, input: ins[0], weightConst: wConst, weightKN: false, K, N: shape[0], label, quantized: true };
  }
  if (n.op === 'Einsum') {
    const eq = attrString(n, 'equation', '').replace(/\s/g, '');
    const m = /^([a-zA-Z.]+),([a-z])([a-z])->([a-zA-Z.]+)$/.exec(eq);
    if (!m || shape.length !== 2) refuse(n.name, `Einsum "${eq}" with a constant weight is not a recognised linear form (expected "...k,kn->...n" or "...k,nk->...n")`);
    const [, xs, w0, w1, ys] = m;
    const xk = xs[xs.length - 1];
    const yn = ys[ys.length - 1];
    const prefixOk = xs.slice(0, -1) === ys.slice(0, -1);
    if (prefixOk && w0 === xk && w1 === yn) return { node: n.name, op: n.op, input: ins[0], weightConst: wConst, weightKN: true, K: shape[0], N: shape[1], label };
    if (prefixOk && w1 === xk && w0 === yn) return { node: n.name, op: n.op, input: ins[0], weightConst: wConst, weightKN: false, K: shape[1], N: shape[0], label };
    refuse(n.name, `Einsum "${eq}" with a constant weight is not a recognised linear form`);
  }
  if (shape.length !== 2) refuse(n.name, `${n.op} weight "${wConst}" has shape [${shape}]; only 2-D weights are supported`);
  const ta = n.op === 'MatMul' || n.op === '_FusedMatMul' ? attrBool(n, 'transpose_a', false) : attrBool(n, 'adj_x', false);
  const tb = n.op === 'MatMul' || n.op === '_FusedMatMul' ? attrBool(n, 'transpose_b', false) : attrBool(n, 'adj_y', false);
  if (ta) refuse(n.name, `${n.op} with a transposed activation operand is not supported`);
  let biasConst: string | undefined;
  if (n.op === '_FusedMatMul') {
    const fused = (n.attr?.fused_ops?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
    if (fused.length > 1 || (fused.length === 1 && fused[0] !== 'BiasAdd')) {
      refuse(n.name, `_FusedMatMul with fused ops [${fused.join(', ')}] is not supported (only BiasAdd)`);
    }
    if (fused.length === 1) {
      biasConst = g.constSource(ins[2]);
      if (!biasConst) refuse(n.name, '_FusedMatMul bias is not a constant');
    }
  }
  return {
    node: n.name, op: n.op, input: ins[0], weightConst: wConst, weightKN: !tb,
    K: tb ? shape[1] : shape[0], N: tb ? shape[0] : shape[1], biasConst, label,
  };
}

/** Forward reachability from `start` tensors, stopping at nodes for which `stop` is true. */
function forwardStops(g: GraphIndex, startNode: string, stop: (n: NodeDefJson) => boolean, limit = 400): string[] {
  const seen = new Set<string>([startNode]);
  const found: string[] = [];
  let frontier = [startNode];
  let steps = 0;
  while (frontier.length && steps++ < limit) {
    const next: string[] = [];
    for (const name of frontier) {
      for (const c of g.consumersOf(name)) {
        if (seen.has(c)) continue;
        seen.add(c);
        const n = g.nodes.get(c)!;
        if (stop(n)) { if (!found.includes(c)) found.push(c); continue; }
        next.push(c);
      }
    }
    frontier = next;
  }
  return found; // in breadth-first order: nearest first
}

function isDynamicMatMul(n: NodeDefJson, linears: Map<string, LinearInfo>): boolean {
  return LINEAR_OPS.has(n.op) && !linears.has(n.name);
}

/** Skips pass-through ops backwards from a tensor to the node that actually computes it. */
function producerThrough(g: GraphIndex, tensor: string): NodeDefJson {
  let n = g.node(tensor);
  while (n.op === 'Identity' || n.op === 'Snapshot') n = g.node(dataInputs(n)[0]);
  return n;
}

/** True if every path from `tensor` forward only goes to `allowed` nodes (through Identity). */
function consumedOnlyBy(g: GraphIndex, tensor: string, allowed: ReadonlySet<string>): boolean {
  for (const c of g.consumersOf(tensor)) {
    if (allowed.has(c)) continue;
    const n = g.nodes.get(c)!;
    if (n.op === 'Identity' && consumedOnlyBy(g, c, allowed)) continue;
    return false;
  }
  return true;
}

/** A norm's gamma Mul that only this group reads can absorb the scale; otherwise a Mul is inserted. */
function gammaFold(g: GraphIndex, tensor: string, linears: string[], weights: WeightMap, K: number): FoldTarget {
  const mul = g.node(tensor);
  if (mul.op === 'Mul' && consumedOnlyBy(g, mul.name, new Set(linears))) {
    const ins = dataInputs(mul);
    for (const i of [1, 0]) {
      const c = g.constSource(ins[i]);
      if (!c || g.constSource(ins[1 - i])) continue;
      const shape = shapeOf(weights, g, c);
      // Shared gammas (tied norms) would scale another reader too.
      if (shape.length === 1 && shape[0] === K && g.consumersOf(c).length === 1 && weightInfo(weights, c)?.dtype === 'float32') {
        return { kind: 'gamma', mulNode: mul.name, gammaConst: c };
      }
    }
  }
  return { kind: 'insert', tensor };
}

/** Nodes that depend on `from` and feed `to` (both tensors), i.e. the block body. */
function between(g: GraphIndex, from: string, to: string): { nodes: Set<string>; side: string[] } {
  const down = new Set<string>();
  const stack = [...g.consumersOf(from)];
  while (stack.length) {
    const c = stack.pop()!;
    if (down.has(c)) continue;
    down.add(c);
    for (const x of g.consumersOf(c)) stack.push(x);
    const node = g.nodes.get(c)!;
    // Multi-output nodes: consumers of "c:1" etc.
    for (let i = 1; i < 4; i++) for (const x of g.consumersOf(`${node.name}:${i}`)) stack.push(x);
  }
  const body = new Set<string>();
  const toNode = parseTensorName(to).node;
  const back = [toNode];
  while (back.length) {
    const n = back.pop()!;
    if (body.has(n) || !down.has(n)) continue;
    body.add(n);
    for (const i of dataInputs(g.nodes.get(n)!)) back.push(parseTensorName(i).node);
  }
  const side = new Set<string>();
  for (const n of body) {
    for (const i of dataInputs(g.nodes.get(n)!)) {
      const p = parseTensorName(i).node;
      if (body.has(p) || i === from || g.constSource(i)) continue;
      side.add(i);
    }
  }
  return { nodes: body, side: [...side].sort() };
}

/** The first Add reached from a tensor through pass-through ops: the residual connection. */
function residualAdd(g: GraphIndex, tensor: string): NodeDefJson | undefined {
  let t = tensor;
  for (let hops = 0; hops < 8; hops++) {
    const cs = g.consumersOf(t).map((c) => g.nodes.get(c)!);
    const add = cs.find((n) => n.op === 'Add' || n.op === 'AddV2');
    if (add) return add;
    const pass = cs.filter((n) => PASS_THROUGH.has(n.op) || n.op === 'BiasAdd');
    if (pass.length !== 1) return undefined;
    t = pass[0].name;
  }
  return undefined;
}

export function analyseGraph(graph: GraphDefJson, weights: WeightMap): GraphAnalysis {
  const g = new GraphIndex(graph);
  const opCounts: Record<string, number> = {};
  for (const n of graph.node) {
    opCounts[n.op] = (opCounts[n.op] ?? 0) + 1;
    if (!SUPPORTED_OPS.has(n.op)) {
      throw new ConversionError('UNSUPPORTED_OP', `node "${n.name}": op ${n.op} is not supported by the converter`, n.name);
    }
  }
  const linears = new Map<string, LinearInfo>();
  for (const n of graph.node) {
    if (!LINEAR_OPS.has(n.op)) continue;
    const info = asLinear(n, g, weights);
    if (info) linears.set(n.name, info);
  }
  const inputs = graph.node.filter((n) => n.op === 'Placeholder').map((n) => n.name);
  const order = new Map(graph.node.map((n, i) => [n.name, i]));

  // Group linears by the tensor they read.
  const byInput = new Map<string, string[]>();
  for (const l of linears.values()) {
    const list = byInput.get(l.input) ?? [];
    list.push(l.node);
    byInput.set(l.input, list);
  }
  const tokenInputs = graph.node.filter((n) => n.op === 'Placeholder' && n.attr?.dtype?.type === 'DT_INT32').map((n) => n.name);
  const lmNodes = descendants(g, tokenInputs);
  const inLm = (node: string): boolean => tokenInputs.length === 0 || lmNodes.has(node);

  const attnGroups = [...byInput.entries()].filter(([, ls]) => ls.length === 3 && ls.every(inLm))
    .sort((a, b) => order.get(a[1][0])! - order.get(b[1][0])!);
  const blocks: BlockInfo[] = [];
  for (const [attnIn, qkv] of attnGroups) {
    blocks.push(analyseBlock(g, linears, weights, attnIn, qkv, blocks.length));
  }
  for (let i = 1; i < blocks.length; i++) {
    if (blocks[i].input !== blocks[i - 1].output) {
      refuse(g.node(blocks[i].input).name, `decoder block ${i} does not read the output of block ${i - 1} ("${blocks[i - 1].output}"); blocks must form one residual chain`);
    }
  }
  const inBlocks = new Set(blocks.flatMap((b) => [b.q, b.k, b.v, b.o, b.gate, b.up, b.down]));
  const otherLinears = [...linears.keys()].filter((l) => !inBlocks.has(l));
  return { linears, blocks, inputs, otherLinears, opCounts };
}

function descendants(g: GraphIndex, starts: string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...starts];
  while (stack.length) {
    const t = stack.pop()!;
    for (const c of g.consumersOf(t)) {
      if (seen.has(c)) continue;
      seen.add(c);
      stack.push(c);
      for (let i = 1; i < 4; i++) if (g.consumers.has(`${c}:${i}`)) stack.push(`${c}:${i}`);
    }
  }
  return seen;
}

function analyseBlock(g: GraphIndex, linears: Map<string, LinearInfo>, weights: WeightMap, attnIn: string, qkv: string[], index: number): BlockInfo {
  const at = `decoder block ${index} (q/k/v group reading "${attnIn}")`;
  const isLinear = (n: NodeDefJson): boolean => linears.has(n.name);
  // q and k first meet in the attention-score matmul; v first meets the probabilities in the context matmul.
  const firstMatmul = qkv.map((l) => forwardStops(g, l, (n) => isDynamicMatMul(n, linears) || isLinear(n)).filter((n) => !linears.has(n)).sort());
  const keys = firstMatmul.map((f) => f.join(','));
  const vIdx = keys.findIndex((k, i) => keys.filter((x, j) => j !== i && x === k).length === 0);
  if (vIdx < 0 || keys.filter((k) => k === keys[(vIdx + 1) % 3]).length !== 2 || firstMatmul[vIdx].length === 0 || firstMatmul[(vIdx + 1) % 3].length === 0) {
    refuse(qkv[0], `${at}: cannot tell q, k and v apart (expected q and k to meet in the attention-score matmuls and v in the context matmuls)`);
  }
  const v = qkv[vIdx];
  const [q, k] = qkv.filter((_, i) => i !== vIdx);
  const contexts = firstMatmul[vIdx];
  const oCands = [...new Set(contexts.flatMap((c) => forwardStops(g, c, isLinear, 40).filter((n) => linears.has(n))))];
  if (oCands.length !== 1) refuse(contexts[0], `${at}: expected one output projection after the attention context matmuls, found ${oCands.length} (${oCands.join(', ')})`);
  const o = oCands[0];
  const resid1 = residualAdd(g, o);
  if (!resid1) refuse(o, `${at}: the output projection does not feed a residual Add`);
  const resid1Ins = dataInputs(resid1);
  const oSide = resid1Ins.findIndex((t) => t === o || ancestorsWithin(g, t, o, 8));
  if (oSide < 0) refuse(resid1.name, `${at}: residual Add does not take the output projection`);
  const blockInput = resid1Ins[1 - oSide];

  // The MLP: the next 2-linear group reading a tensor downstream of the first residual.
  const mlpCands = forwardStops(g, resid1.name, isLinear, 12).filter((n) => linears.has(n));
  const mlpInput = [...new Set(mlpCands.map((n) => linears.get(n)!.input))];
  const mlpGroup = mlpInput.map((t) => [...linears.values()].filter((l) => l.input === t).map((l) => l.node))[0];
  if (mlpGroup && mlpGroup.length !== 2) refuse(mlpGroup[0], `${at}: the first linears after the attention residual are ${mlpGroup.length} sharing one input; expected a gate/up pair`);
  if (!mlpGroup) refuse(resid1.name, `${at}: no gate/up pair of linears sharing an input after the attention residual`);
  const downCands = [...new Set(mlpGroup.flatMap((l) => forwardStops(g, l, isLinear, 20)))].filter((n) => linears.has(n));
  if (downCands.length !== 1) refuse(mlpGroup[0], `${at}: expected one down projection after gate/up, found ${downCands.length}`);
  const down = downCands[0];
  const downIn = producerThrough(g, linears.get(down)!.input);
  // up feeds the elementwise product directly; gate goes through the activation.
  let up: string | undefined;
  if (downIn.op === 'Mul') {
    const direct = dataInputs(downIn).map((t) => producerThrough(g, t).name);
    const hits = mlpGroup.filter((l) => direct.includes(l));
    if (hits.length === 1) up = hits[0];
  }
  if (!up) refuse(down, `${at}: the down projection's input is not an elementwise product of one of gate/up with the other's activation`);
  const gate = mlpGroup.find((l) => l !== up)!;
  const resid2 = residualAdd(g, down);
  if (!resid2) refuse(down, `${at}: the down projection does not feed a residual Add`);
  const r2 = dataInputs(resid2);
  if (!r2.includes(resid1.name) && !r2.some((t) => ancestorsWithin(g, resid1.name, t, 0))) {
    refuse(resid2.name, `${at}: the MLP residual Add does not add to the attention residual "${resid1.name}"`);
  }
  const output = resid2.name;

  const L = (id: string): LinearInfo => linears.get(id)!;
  const groups: GroupInfo[] = [
    { name: 'attn-in', linears: [q, k, v], input: attnIn, fold: gammaFold(g, attnIn, [q, k, v], weights, L(q).K), outputLinear: o },
  ];
  const vi = L(v); const oi = L(o);
  // v -> o only when their shapes match (docs/algorithm.md §4: no GQA), and v's output reaches nothing but the
  // context matmuls through channel-preserving slicing (the fold is checked numerically afterwards).
  if (vi.K === oi.K && vi.N === oi.N) {
    const vOut = forwardStops(g, v, (n) => !(PASS_THROUGH.has(n.op) || CHANNEL_SLICES.has(n.op)), 20).sort();
    const foldable = vOut.join(',') === contexts.join(',') && !vi.biasConst;
    groups.push({ name: 'attn-out', linears: [o], input: oi.input, fold: foldable ? { kind: 'linear', linear: v } : { kind: 'insert', tensor: oi.input }, outputLinear: o });
  }
  const mlpIn = L(gate).input;
  groups.push({ name: 'mlp-in', linears: [gate, up], input: mlpIn, fold: gammaFold(g, mlpIn, [gate, up], weights, L(gate).K), outputLinear: down });
  const upOnlyToMul = g.consumersOf(up).length === 1 && g.consumersOf(up)[0] === downIn.name;
  groups.push({ name: 'mlp-out', linears: [down], input: L(down).input, fold: upOnlyToMul && L(down).K === L(up).N ? { kind: 'linear', linear: up } : { kind: 'insert', tensor: L(down).input }, outputLinear: down });

  const { nodes, side } = between(g, blockInput, output);
  return { index, input: blockInput, output, q, k, v, o, gate, up, down, groups, nodes: [...nodes].sort(), sideInputs: side };
}

/** True if `target` is `tensor` or reached from it backwards within `hops` pass-through steps. */
function ancestorsWithin(g: GraphIndex, tensor: string, target: string, hops: number): boolean {
  let t = tensor;
  for (let i = 0; i <= hops; i++) {
    if (parseTensorName(t).node === parseTensorName(target).node) return true;
    const n = g.nodes.get(parseTensorName(t).node);
    if (!n || !(PASS_THROUGH.has(n.op) || n.op === 'BiasAdd')) return false;
    t = dataInputs(n)[0];
  }
  return false;
}
