/**
 * Rewrites the decoder patterns of a written graph into the fused ops of @tfjs-mbq/ops
 * (docs/architecture.md, "Fused decoder ops"), so that a decode step runs fewer ops:
 * - RMSNorm  Square→Mean→Add(eps)→Rsqrt→Mul(x)→Mul(gamma)          -> MbqRmsNorm(x, gamma)
 * - residual MbqRmsNorm(Add(a, b), gamma), a and b activations -> MbqAddRmsNorm(a, b, gamma)
 *   (outputs [y, sum]; the Add's other readers, the next residual add, read sum)
 * - SiLU gate Mul(Mul(g, Sigmoid(g)), u), g and u linears of one x -> MbqSiluGate(gate_up), gate_up
 *   one linear (MatMul or MbqQuantizedMatMul) whose weight rows are gate's then up's
 * - attention per-head slices, RoPE (rotate-half), scores, scale, additive mask, Softmax, context,
 *   concat of heads -> MbqAttention(MbqRope(q), MbqRope(k), v, mask); when q/k/v are linears of
 *   one x: one qkv linear and MbqAttention(MbqRopeAppendKv(qkv):0, :1, :2, mask), RoPE and the
 *   q/k/v split in one node (the runtime's step graph gives it the KV cache: the append too).
 * Patterns are found by structure (ops, constants and wiring), never by node names. The final
 * node of each pattern keeps its name, so every consumer still reads it (an Add folded into a
 * norm is the one node whose readers are rewired); nodes nothing reads any more are then dropped. Applied to the graph a conversion writes (quantized and float alike);
 * the conversion itself (sensitivity's tf.grad, the search) runs on the unfused graph.
 */
import {
  encodeAttentionAttrs, encodeRmsNormAttrs, encodeRopeAppendKvAttrs, encodeRopeAttrs, MBQ_ADD_RMS_NORM_OP, MBQ_ATTENTION_OP,
  MBQ_QUANTIZED_MATMUL_OP, MBQ_RMS_NORM_OP, MBQ_ROPE_APPEND_KV_OP, MBQ_ROPE_OP, MBQ_SILU_GATE_OP, quantizedMatMulAttrsOfJson,
} from '@tfjs-mbq/format';
import type { GraphDefJson, NodeDefJson } from '../graph/types.js';
import type { WeightArray, WeightMap } from '../io/weights.js';
import { attrBool, attrInt, canonicalTensor, dataInputs, parseTensorName } from '../graph/attrs.js';
import { cloneGraph } from '../graph/fold.js';
import { copyWeights, LazyWeightMap, weightInfo } from '../io/lazy_weights.js';

export interface FuseReport {
  rmsNorm: number;
  /** Of those, norms that took in the residual Add they read (MbqAddRmsNorm). */
  addRmsNorm: number;
  siluGate: number;
  attention: number;
  /** Linears merged into one (q/k/v: 3 -> 1; gate/up: 2 -> 1), counted as merged groups. */
  mergedLinears: number;
  nodesBefore: number;
  nodesAfter: number;
}

const FLOAT_T = { T: { type: 'DT_FLOAT' as const } };
const ADD = new Set(['Add', 'AddV2']);

/** A linear y = x · W (+ b) as written: MatMul on a float Const, or MbqQuantizedMatMul on packed Consts. */
interface Linear {
  kind: 'float' | 'quantized';
  x: string;
  core: NodeDefJson;
  bias?: Float32Array;
  N: number;
}

class Graph {
  readonly byName = new Map<string, NodeDefJson>();
  private readonly taken = new Set<string>();

  /** spill: merged weights go to the lazy map's scratch file as they are made (memory holds one at a time). */
  constructor(readonly nodes: NodeDefJson[], readonly weights: WeightMap, private readonly spill = false) {
    for (const n of nodes) { this.byName.set(n.name, n); this.taken.add(n.name); }
  }

  /** The node producing `ref` when it is output 0 of an op `op` (any of `ops`). */
  node(ref: string | undefined, ...ops: string[]): NodeDefJson | undefined {
    if (ref === undefined) return undefined;
    const p = parseTensorName(ref);
    if (p.index !== 0 || p.control) return undefined;
    const n = this.byName.get(p.node);
    return n && (ops.length === 0 || ops.includes(n.op)) ? n : undefined;
  }

  ins(n: NodeDefJson): string[] {
    return dataInputs(n);
  }

  /** dtype and shape of a Const's weight, without reading it (a lazy map keeps it on disk). */
  constInfo(ref: string | undefined): { dtype: string; shape: number[] } | undefined {
    const n = this.node(ref, 'Const');
    const w = n ? weightInfo(this.weights, n.name) : undefined;
    return w ? { dtype: w.dtype, shape: [...w.shape] } : undefined;
  }

  /** A float32 Const of rank `rank` (shape only). */
  isFloatConst(ref: string | undefined, rank: number): boolean {
    const i = this.constInfo(ref);
    return i !== undefined && i.dtype === 'float32' && i.shape.length === rank;
  }

  constData(ref: string | undefined): WeightArray | undefined {
    const n = this.node(ref, 'Const');
    return n ? this.weights.get(n.name) : undefined;
  }

  floatConst(ref: string | undefined): { data: Float32Array; shape: number[] } | undefined {
    const w = this.constData(ref);
    return w && w.data instanceof Float32Array ? { data: w.data, shape: [...w.shape] } : undefined;
  }

  /** The values of a small int32 Const (shape operands). */
  intConst(ref: string | undefined): number[] | undefined {
    const i = this.constInfo(ref);
    if (!i || i.dtype !== 'int32' || i.shape.reduce((a, b) => a * b, 1) > 16) return undefined;
    const w = this.constData(ref);
    return w && w.data instanceof Int32Array ? Array.from(w.data) : undefined;
  }

  scalar(ref: string | undefined): number | undefined {
    const i = this.constInfo(ref);
    if (!i || i.dtype !== 'float32' || i.shape.reduce((a, b) => a * b, 1) !== 1) return undefined;
    return this.floatConst(ref)?.data[0];
  }

  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.taken.has(name); i++) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }

  add(node: NodeDefJson): string {
    this.nodes.push(node);
    this.byName.set(node.name, node);
    this.taken.add(node.name);
    return node.name;
  }

  constant(base: string, w: WeightArray): string {
    const name = this.fresh(base);
    const dtype = w.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT';
    this.weights.set(name, w);
    if (this.spill && this.weights instanceof LazyWeightMap) this.weights.spill([name]);
    return this.add({ name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: w.shape.map((d) => ({ size: String(d) })) } } } } });
  }

  /** Turns `node` (keeping its name) into another op. */
  replace(node: NodeDefJson, op: string, input: string[], attr: NodeDefJson['attr']): void {
    node.op = op;
    node.input = input;
    node.attr = attr;
  }

  /** x[..., begin:end] along the last axis of a rank-`rank` tensor (end null: to the end). */
  slice(base: string, x: string, rank: number, begin: number, end: number | null): string {
    const axis = rank - 1;
    const b = new Array<number>(rank).fill(0);
    const e = new Array<number>(rank).fill(0);
    b[axis] = begin;
    e[axis] = end ?? 0;
    const others = ((1 << rank) - 1) & ~(1 << axis);
    const name = this.fresh(base);
    const ints = (suffix: string, v: number[]): string => this.constant(`${name}/${suffix}`, { dtype: 'int32', shape: [v.length], data: Int32Array.from(v) });
    return this.add({
      name, op: 'StridedSlice', input: [x, ints('begin', b), ints('end', e), ints('strides', new Array<number>(rank).fill(1))],
      attr: {
        ...FLOAT_T, Index: { type: 'DT_INT32' }, begin_mask: { i: String(others) }, end_mask: { i: String(end === null ? others | (1 << axis) : others) },
        ellipsis_mask: { i: '0' }, new_axis_mask: { i: '0' }, shrink_axis_mask: { i: '0' },
      },
    });
  }
}

/** Inputs (a, b) of a commutative binary node, either order, such that `test(a)` holds. */
function operands(g: Graph, n: NodeDefJson, test: (ref: string) => boolean): [string, string] | undefined {
  const ins = g.ins(n);
  if (ins.length !== 2) return undefined;
  if (test(ins[0]!)) return [ins[0]!, ins[1]!];
  if (test(ins[1]!)) return [ins[1]!, ins[0]!];
  return undefined;
}

function matchRmsNorm(g: Graph, y: NodeDefJson): { x: string; gamma: string; eps: number } | undefined {
  if (y.op !== 'Mul') return undefined;
  const pair = operands(g, y, (r) => g.isFloatConst(r, 1));
  if (!pair) return undefined;
  const [gamma, aRef] = pair;
  const a = g.node(aRef, 'Mul');
  if (!a) return undefined;
  const ar = operands(g, a, (r) => g.node(r, 'Rsqrt') !== undefined);
  if (!ar) return undefined;
  const [rRef, x] = ar;
  const e = g.node(g.ins(g.node(rRef)!)[0], ...ADD);
  if (!e) return undefined;
  const em = operands(g, e, (r) => g.scalar(r) !== undefined);
  if (!em) return undefined;
  const eps = g.scalar(em[0])!;
  const mean = g.node(em[1], 'Mean');
  if (!mean || !attrBool(mean, 'keep_dims', false)) return undefined;
  const axes = g.intConst(g.ins(mean)[1]);
  if (!axes || axes.length !== 1 || axes[0] !== -1) return undefined;
  const sq = g.node(g.ins(mean)[0], 'Square');
  if (!sq || canonicalTensor(g.ins(sq)[0]!) !== canonicalTensor(x)) return undefined;
  if (!(eps >= 0) || !(g.constInfo(gamma)!.shape[0]! > 0)) return undefined;
  return { x, gamma, eps };
}

function linearOf(g: Graph, ref: string): Linear | undefined {
  let bias: Float32Array | undefined;
  let coreRef = ref;
  const top = g.node(ref, 'Add', 'AddV2', 'BiasAdd');
  if (top) {
    const pair = operands(g, top, (r) => g.isFloatConst(r, 1));
    if (!pair) return undefined;
    bias = g.floatConst(pair[0])?.data;
    if (!bias) return undefined;
    coreRef = pair[1];
  }
  const core = g.node(coreRef, 'MatMul', MBQ_QUANTIZED_MATMUL_OP);
  if (!core) return undefined;
  const ins = g.ins(core);
  let N: number;
  if (core.op === 'MatMul') {
    if (attrBool(core, 'transpose_a', false) || ins.length !== 2) return undefined;
    const w = g.constInfo(ins[1]);
    if (!w || w.dtype !== 'float32' || w.shape.length !== 2) return undefined;
    N = attrBool(core, 'transpose_b', false) ? w.shape[0]! : w.shape[1]!;
  } else {
    if (ins.length !== 4) return undefined;
    const packed = g.constInfo(ins[1]);
    if (!packed || packed.dtype !== 'int32' || packed.shape.length !== 2 || !g.isFloatConst(ins[2], 2) || !g.isFloatConst(ins[3], 2)) return undefined;
    N = packed.shape[0]!;
  }
  if (bias && bias.length !== N) return undefined;
  return { kind: core.op === 'MatMul' ? 'float' : 'quantized', x: canonicalTensor(ins[0]!), core, bias, N };
}

function concatRows(parts: WeightArray[]): WeightArray {
  const rows = parts.reduce((s, p) => s + p.shape[0]!, 0);
  const cols = parts[0]!.shape[1]!;
  const data = parts[0]!.data instanceof Int32Array ? new Int32Array(rows * cols) : new Float32Array(rows * cols);
  let off = 0;
  for (const p of parts) { data.set(p.data as Float32Array & Int32Array, off); off += p.data.length; }
  return { dtype: parts[0]!.dtype, shape: [rows, cols], data } as WeightArray;
}

function concatCols(parts: WeightArray[]): WeightArray {
  const K = parts[0]!.shape[0]!;
  const total = parts.reduce((s, p) => s + p.shape[1]!, 0);
  const data = new Float32Array(K * total);
  for (let k = 0; k < K; k++) {
    let off = 0;
    for (const p of parts) {
      const n = p.shape[1]!;
      data.set((p.data as Float32Array).subarray(k * n, (k + 1) * n), k * total + off);
      off += n;
    }
  }
  return { dtype: 'float32', shape: [K, total], data };
}

/** One linear computing the concatenation (last axis) of `ls`' outputs, or undefined when they do not merge. */
function mergeLinears(g: Graph, base: string, ls: Linear[]): string | undefined {
  const first = ls[0]!;
  if (ls.some((l) => l.kind !== first.kind || l.x !== first.x || (l.bias === undefined) !== (first.bias === undefined))) return undefined;
  const ins = ls.map((l) => g.ins(l.core));
  let core: string;
  if (first.kind === 'quantized') {
    const attrs = ls.map((l) => JSON.stringify(quantizedMatMulAttrsOfJson(l.core.attr, l.core.name)));
    if (attrs.some((a) => a !== attrs[0])) return undefined;
    if (ins.some((i) => g.constInfo(i[1])!.shape[1] !== g.constInfo(ins[0]![1])!.shape[1])) return undefined;
    const [packed, scales, zeros] = [1, 2, 3].map((k) => concatRows(ins.map((i) => g.constData(i[k])!)));
    const name = g.fresh(base);
    const c = (suffix: string, w: WeightArray): string => g.constant(`${name}/${suffix}`, w);
    core = g.add({ name, op: MBQ_QUANTIZED_MATMUL_OP, input: [first.x, c('packed', packed!), c('scales', scales!), c('zeros', zeros!)], attr: { ...first.core.attr } });
  } else {
    const tb = attrBool(first.core, 'transpose_b', false);
    if (ls.some((l) => attrBool(l.core, 'transpose_b', false) !== tb)) return undefined;
    const K = (i: string[]): number => g.constInfo(i[1])!.shape[tb ? 1 : 0]!;
    if (ins.some((i) => K(i) !== K(ins[0]!))) return undefined;
    const ws = ins.map((i) => g.constData(i[1])!);
    const name = g.fresh(base);
    const w = g.constant(`${name}/weight`, tb ? concatRows(ws) : concatCols(ws));
    core = g.add({ name, op: 'MatMul', input: [first.x, w], attr: { ...first.core.attr } });
  }
  if (!first.bias) return core;
  const bias = new Float32Array(ls.reduce((s, l) => s + l.N, 0));
  let off = 0;
  for (const l of ls) { bias.set(l.bias!, off); off += l.N; }
  const b = g.constant(`${core}/bias`, { dtype: 'float32', shape: [bias.length], data: bias });
  return g.add({ name: g.fresh(`${core}/BiasAdd`), op: 'AddV2', input: [core, b], attr: FLOAT_T });
}

function fuseSiluGate(g: Graph, y: NodeDefJson): boolean {
  if (y.op !== 'Mul') return false;
  const isSilu = (r: string): boolean => {
    const m = g.node(r, 'Mul');
    return m !== undefined && operands(g, m, (s) => {
      const sig = g.node(s, 'Sigmoid');
      return sig !== undefined && canonicalTensor(g.ins(sig)[0]!) === canonicalTensor(g.ins(m).find((i) => i !== s) ?? '');
    }) !== undefined;
  };
  const pair = operands(g, y, isSilu);
  if (!pair) return false;
  const silu = g.node(pair[0])!;
  const gateRef = operands(g, silu, (s) => g.node(s, 'Sigmoid') !== undefined)![1];
  const gate = linearOf(g, gateRef);
  const up = linearOf(g, pair[1]);
  if (!gate || !up || gate.N !== up.N) return false;
  const merged = mergeLinears(g, `${y.name}/gate_up`, [gate, up]);
  if (!merged) return false;
  g.replace(y, MBQ_SILU_GATE_OP, [merged], FLOAT_T);
  return true;
}

/** A StridedSlice of the last axis (rank 3, stride 1, no special masks) -> its source and range. */
function lastAxisSlice(g: Graph, ref: string): { src: string; begin: number; end: number } | undefined {
  const s = g.node(ref, 'StridedSlice');
  if (!s || attrInt(s, 'ellipsis_mask', 0) || attrInt(s, 'new_axis_mask', 0) || attrInt(s, 'shrink_axis_mask', 0)) return undefined;
  const [src, bRef, eRef, sRef] = g.ins(s);
  const b = g.intConst(bRef), e = g.intConst(eRef), st = g.intConst(sRef);
  if (!b || !e || !st || b.length !== 3 || st.some((v) => v !== 1)) return undefined;
  const bm = attrInt(s, 'begin_mask', 0), em = attrInt(s, 'end_mask', 0);
  if ((bm & 3) !== 3 || (em & 3) !== 3 || (bm & 4) || (em & 4)) return undefined;
  return { src: canonicalTensor(src!), begin: b[2]!, end: e[2]! };
}

/** Rotate-half RoPE of one head: Add(Mul(x, cos), Mul(Concat([Neg(x[d/2:]), x[:d/2]]), sin)). */
function matchRope(g: Graph, ref: string): { x: string; cos: string; sin: string } | undefined {
  const add = g.node(ref, ...ADD);
  if (!add) return undefined;
  const [m1Ref, m2Ref] = g.ins(add);
  for (const [cosMulRef, sinMulRef] of [[m1Ref, m2Ref], [m2Ref, m1Ref]] as const) {
    const cm = g.node(cosMulRef, 'Mul'), sm = g.node(sinMulRef, 'Mul');
    if (!cm || !sm) continue;
    const rot = operands(g, sm, (r) => g.node(r, 'ConcatV2') !== undefined);
    if (!rot) continue;
    const cat = g.node(rot[0])!;
    const cins = g.ins(cat);
    if (cins.length !== 3 || g.intConst(cins[2])?.[0] !== 2) continue;
    const neg = g.node(cins[0], 'Neg');
    const x2 = neg && lastAxisSlice(g, g.ins(neg)[0]!);
    const x1 = lastAxisSlice(g, cins[1]!);
    if (!x1 || !x2 || x1.src !== x2.src || x1.begin !== 0 || x2.begin !== x1.end || x2.end !== 2 * x1.end) continue;
    const x = x1.src;
    const cosPair = operands(g, cm, (r) => canonicalTensor(r) === x);
    if (!cosPair) continue;
    return { x, cos: canonicalTensor(cosPair[1]), sin: canonicalTensor(rot[1]) };
  }
  return undefined;
}

/** One head's branch: BatchMatMul(Softmax(Add(Mul(BatchMatMul(rope(q_h), rope(k_g), adj_y), scale), mask)), v_g). */
interface HeadMatch { q: { src: string; begin: number; end: number }; k: { src: string; begin: number; end: number }; v: { src: string; begin: number; end: number }; cos: string; sin: string; scale: number; mask: string }

function matchHead(g: Graph, ref: string): HeadMatch | undefined {
  const ctx = g.node(ref, 'BatchMatMul', 'BatchMatMulV2');
  if (!ctx || attrBool(ctx, 'adj_x', false) || attrBool(ctx, 'adj_y', false)) return undefined;
  const [pRef, vRef] = g.ins(ctx);
  const sm = g.node(pRef, 'Softmax');
  const v = vRef && lastAxisSlice(g, vRef);
  if (!sm || !v) return undefined;
  const masked = g.node(g.ins(sm)[0], ...ADD);
  if (!masked) return undefined;
  const mp = operands(g, masked, (r) => g.node(r, 'Mul') !== undefined);
  if (!mp) return undefined;
  const scaled = g.node(mp[0])!;
  const sp = operands(g, scaled, (r) => g.scalar(r) !== undefined);
  if (!sp) return undefined;
  const scores = g.node(sp[1], 'BatchMatMul', 'BatchMatMulV2');
  if (!scores || attrBool(scores, 'adj_x', false) || !attrBool(scores, 'adj_y', false)) return undefined;
  const [qr, kr] = g.ins(scores);
  const rq = matchRope(g, qr!), rk = matchRope(g, kr!);
  if (!rq || !rk || rq.cos !== rk.cos || rq.sin !== rk.sin) return undefined;
  const q = lastAxisSlice(g, rq.x), k = lastAxisSlice(g, rk.x);
  if (!q || !k) return undefined;
  return { q, k, v, cos: rq.cos, sin: rq.sin, scale: g.scalar(sp[0])!, mask: canonicalTensor(mp[1]) };
}

/** 'qkv': fused with one merged q/k/v linear; 'split': the linears stay apart; false: no match. */
function fuseAttention(g: Graph, cat: NodeDefJson): 'qkv' | 'split' | false {
  if (cat.op !== 'ConcatV2') return false;
  const ins = g.ins(cat);
  const heads = ins.slice(0, -1);
  if (heads.length < 1 || g.intConst(ins[ins.length - 1])?.[0] !== 2) return false;
  const ms = heads.map((h) => matchHead(g, h));
  if (ms.some((m) => !m)) return false;
  const m = ms as HeadMatch[];
  const h0 = m[0]!;
  const d = h0.q.end - h0.q.begin;
  const H = m.length;
  const kvBegins = [...new Set(m.map((x) => x.k.begin))].sort((a, b) => a - b);
  const KV = kvBegins.length;
  if (d <= 0 || d % 2 !== 0 || H % KV !== 0) return false;
  const ok = m.every((x, h) => {
    const gi = Math.floor(h / (H / KV));
    return x.q.src === h0.q.src && x.k.src === h0.k.src && x.v.src === h0.v.src && x.cos === h0.cos && x.sin === h0.sin
      && x.mask === h0.mask && x.scale === h0.scale && x.q.begin === h * d && x.q.end === (h + 1) * d
      && x.k.begin === gi * d && x.k.end === (gi + 1) * d && x.v.begin === gi * d && x.v.end === (gi + 1) * d;
  });
  if (!ok || !(h0.scale > 0)) return false;
  const base = cat.name;
  const rope = (name: string, x: string, n: number): string =>
    g.add({ name: g.fresh(name), op: MBQ_ROPE_OP, input: [x, h0.cos, h0.sin], attr: encodeRopeAttrs({ headDim: d, heads: n }) });
  let q: string, k: string, v: string;
  const lq = linearOf(g, h0.q.src), lk = linearOf(g, h0.k.src), lv = linearOf(g, h0.v.src);
  const qkv = lq && lk && lv && lq.N === H * d && lk.N === KV * d && lv.N === KV * d ? mergeLinears(g, `${base}/qkv`, [lq, lk, lv]) : undefined;
  if (qkv) {
    const split = g.add({
      name: g.fresh(`${base}/rope_qkv`), op: MBQ_ROPE_APPEND_KV_OP, input: [qkv, h0.cos, h0.sin],
      attr: encodeRopeAppendKvAttrs({ heads: H, kvHeads: KV, headDim: d }),
    });
    [q, k, v] = [split, `${split}:1`, `${split}:2`];
  } else {
    q = rope(`${base}/rope_q`, h0.q.src, H);
    k = rope(`${base}/rope_k`, h0.k.src, KV);
    v = h0.v.src;
  }
  g.replace(cat, MBQ_ATTENTION_OP, [q, k, v, h0.mask], encodeAttentionAttrs({ heads: H, kvHeads: KV, headDim: d, scale: h0.scale }));
  return qkv ? 'qkv' : 'split';
}

/**
 * MbqRmsNorm `n` of Add(a, b) -> MbqAddRmsNorm(a, b, gamma), keeping n's name (output 0 is its
 * y); every other reader of the Add reads output 1 (the sum). Only an Add of two activations
 * (no Const operand: a bias or position-table add stays) in float, not a graph output (`keep`).
 */
function fuseResidualNorm(g: Graph, n: NodeDefJson, keep: ReadonlySet<string>): boolean {
  const [xRef, gamma] = g.ins(n);
  const add = g.node(xRef, ...ADD);
  if (!add || keep.has(add.name) || (add.attr?.T?.type ?? 'DT_FLOAT') !== 'DT_FLOAT') return false;
  const ab = g.ins(add);
  if (ab.length !== 2 || ab.some((r) => g.node(r, 'Const') !== undefined)) return false;
  for (const m of g.nodes) {
    if (m === n || !m.input) continue;
    m.input = m.input.map((r) => {
      const p = parseTensorName(r);
      if (p.node !== add.name) return r;
      return p.control ? `^${n.name}` : `${n.name}:1`;
    });
  }
  g.replace(n, MBQ_ADD_RMS_NORM_OP, [ab[0]!, ab[1]!, gamma!], n.attr);
  return true;
}

/** Drops nodes that nothing reads any more and that something read before (and their weights). */
function dropDead(g: Graph, readBefore: ReadonlySet<string>): NodeDefJson[] {
  let nodes = g.nodes;
  for (;;) {
    const read = new Set(nodes.flatMap((n) => (n.input ?? []).map((r) => parseTensorName(r).node)));
    const keep = nodes.filter((n) => read.has(n.name) || !readBefore.has(n.name));
    if (keep.length === nodes.length) break;
    nodes = keep;
  }
  const kept = new Set(nodes.map((n) => n.name));
  for (const k of [...g.weights.keys()]) if (!kept.has(k)) g.weights.delete(k);
  return nodes;
}

export interface FuseOptions {
  /**
   * With a lazy weight map: move each merged weight to the map's scratch file as soon as it is made
   * (a float model's merged q/k/v and gate/up weights are most of it); the caller disposes the
   * returned map. Default false (a quantized model's merged weights are small).
   */
  spill?: boolean;
}

/** Nodes a signature names (tensor "name" fields of its inputs and outputs): the fuse pass keeps them. */
export function signatureNodes(signature: Record<string, unknown> | undefined): Set<string> {
  const names = new Set<string>();
  for (const part of ['inputs', 'outputs']) {
    const entries = signature?.[part];
    if (!entries || typeof entries !== 'object') continue;
    for (const e of Object.values(entries as Record<string, unknown>)) {
      const name = (e as { name?: unknown } | null)?.name;
      if (typeof name === 'string') names.add(parseTensorName(name).node);
    }
  }
  return names;
}

/**
 * The graph with its decoder patterns fused (a copy; `weights` is not modified). `keep`: nodes
 * read from outside the graph (signature outputs), never folded away.
 */
export function fuseDecoderOps(
  graph: GraphDefJson, weights: WeightMap, keep: ReadonlySet<string> = new Set(), opts: FuseOptions = {},
): { graph: GraphDefJson; weights: WeightMap; report: FuseReport } {
  const out = cloneGraph(graph);
  const g = new Graph(out.node, copyWeights(weights), opts.spill ?? false);
  const readBefore = new Set(out.node.flatMap((n) => (n.input ?? []).map((r) => parseTensorName(r).node)));
  const report: FuseReport = { rmsNorm: 0, addRmsNorm: 0, siluGate: 0, attention: 0, mergedLinears: 0, nodesBefore: out.node.length, nodesAfter: 0 };
  const original = out.node.slice();
  for (const n of original) {
    const fused = fuseAttention(g, n);
    if (fused) report.attention++;
    if (fused === 'qkv') report.mergedLinears++;
  }
  for (const n of original) {
    if (n.op !== 'Mul') continue;
    if (fuseSiluGate(g, n)) { report.siluGate++; report.mergedLinears++; continue; }
    const r = matchRmsNorm(g, n);
    if (r) { g.replace(n, MBQ_RMS_NORM_OP, [r.x, r.gamma], encodeRmsNormAttrs({ eps: r.eps })); report.rmsNorm++; }
  }
  // After the norms above: the Add of a residual is matched as the input of a fused norm.
  for (const n of original) {
    if (n.op === MBQ_RMS_NORM_OP && fuseResidualNorm(g, n, keep)) report.addRmsNorm++;
  }
  out.node = dropDead(g, readBefore);
  // Producers first: new nodes were appended after their consumers' originals.
  out.node = topological(out.node);
  report.nodesAfter = out.node.length;
  return { graph: out, weights: g.weights, report };
}

function topological(nodes: NodeDefJson[]): NodeDefJson[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const done = new Set<string>();
  const order: NodeDefJson[] = [];
  const visit = (n: NodeDefJson): void => {
    const stack: Array<[NodeDefJson, number]> = [[n, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [node, i] = top;
      if (done.has(node.name)) { stack.pop(); continue; }
      const ins = node.input ?? [];
      if (i < ins.length) {
        top[1]++;
        const dep = byName.get(parseTensorName(ins[i]!).node);
        if (dep && !done.has(dep.name)) stack.push([dep, 0]);
        continue;
      }
      done.add(node.name);
      order.push(node);
      stack.pop();
    }
  };
  for (const n of nodes) visit(n);
  return order;
}
