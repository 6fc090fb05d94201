/**
 * Derives a one-token decode step from a prefill graph, by a graph transformation.
 *
 * Every node that depends on `input_ids` gets one of two forms in the step:
 * - row(axis): only the last sequence position along `axis` (the new token), all other sequence
 *   axes (e.g. attention keys) full length;
 * - full: the original node, recomputed from the full `input_ids` (cheap shape/index work such
 *   as positions, RoPE tables, causal mask, token embeddings).
 * Per-op rules say when an op maps rows to rows (elementwise, linear layers, norms over the last
 * axis, head slicing, end-aligned slices and concats, gathers). Where a rule needs the whole
 * sequence of a row-form tensor (the keys and values in `BatchMatMul`), the step reads it as
 * `concat(past, row)`: `past` is a new graph input and the concat a new output, i.e. the KV cache.
 * MbqRopeAppendKv appends itself: its step node takes the caches as inputs, outputs 1 and 2 are them.
 * Row forms of full tensors are `StridedSlice(x, -1)`. Image-only nodes are fed from the prefill.
 * Sequence axes are found by running the graph at two lengths (see probe.ts), so nothing depends
 * on node names. The caller checks the step against a full run before trusting it.
 */
import {
  decodeRopeAppendKvAttrs, MBQ_ADD_RMS_NORM_OP, MBQ_ATTENTION_OP, MBQ_QUANTIZED_MATMUL_OP, MBQ_RMS_NORM_OP, MBQ_ROPE_APPEND_KV_OP,
  MBQ_ROPE_OP, MBQ_SILU_GATE_OP,
} from '@tfjs-mbq/format';
import type { NodeDefJson } from '../../model_files.js';
import type { ConstValues } from './const_values.js';
import { nodeName, outputIndex, seqAxes, type ProbedNode } from './graph_info.js';

const STEP_PREFIX = 'kv_step/';

type Form = { kind: 'fixed' } | { kind: 'full' } | { kind: 'row'; axis: number; ref: string };

export interface CacheEntry {
  /** Prefill tensor whose full value seeds the cache: a node (output 0) or `node:k`. */
  node: string;
  axis: number;
  /** Step graph input holding the cache before this token. */
  past: string;
  /** Step graph output holding the cache after this token. */
  present: string;
  dtype: string;
}

export interface StepGraph {
  /** Nodes to append to the prefill graph. */
  nodes: NodeDefJson[];
  /** int32 constants the new nodes read (append to the weights). */
  consts: Array<{ name: string; values: number[]; shape: number[] }>;
  /** Step output holding the last position's logits. */
  logits: string;
  caches: CacheEntry[];
  /** Image-only prefill nodes the step reads: captured at prefill and fed to every step. */
  frontier: string[];
  /** Counts of step nodes by form, for reports. */
  rowNodes: number;
  fullNodes: string[];
}

const UNARY = new Set(['Identity', 'Snapshot', 'StopGradient', 'Cast', 'Neg', 'Exp', 'Log', 'Sqrt', 'Rsqrt', 'Square', 'Abs', 'Tanh',
  'Sigmoid', 'Relu', 'Relu6', 'Elu', 'Selu', 'Softplus', 'Erf', 'Sin', 'Cos', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign',
  'Log1p', 'Expm1', 'LeakyRelu', 'ClipByValue', 'LogicalNot', 'ZerosLike', 'OnesLike']);
const BINARY = new Set(['Add', 'AddV2', 'BiasAdd', 'Sub', 'Mul', 'RealDiv', 'Div', 'DivNoNan', 'FloorDiv', 'FloorMod', 'Maximum', 'Minimum',
  'Pow', 'SquaredDifference', 'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr',
  'Select', 'SelectV2', 'AddN']);
/** Ops whose first input is the activation and whose other inputs are weights: y rows = f(x rows). */
const LINEAR = new Set(['MatMul', '_FusedMatMul', MBQ_QUANTIZED_MATMUL_OP]);
/** Fused ops that work row by row along the last axis (other inputs: weights or broadcast tables). */
const ROW_WISE = new Set([MBQ_RMS_NORM_OP, MBQ_ADD_RMS_NORM_OP, MBQ_SILU_GATE_OP, MBQ_ROPE_OP]);
/** Ops whose every output has output 0's shape and rows (MbqAddRmsNorm's [y, sum]): all take its row form. */
const SAME_SHAPE_OUTPUTS = new Set([MBQ_ADD_RMS_NORM_OP]);
const REDUCE = new Set(['Mean', 'Sum', 'Max', 'Min', 'Prod']);
/** Ops that scale with sequence length times weights: must not run over the full sequence in a step. */
const HEAVY_OPS = new Set(['MatMul', '_FusedMatMul', MBQ_QUANTIZED_MATMUL_OP, 'BatchMatMul', 'BatchMatMulV2', 'BatchMatMulV3', 'Conv2D', 'Einsum']);

function attrInt(node: NodeDefJson, key: string): number {
  const v = (node.attr?.[key] as { i?: string | number } | undefined)?.i;
  return v === undefined ? 0 : Number(v);
}
function attrBool(node: NodeDefJson, key: string): boolean {
  return (node.attr?.[key] as { b?: boolean } | undefined)?.b === true;
}
function attrInts(node: NodeDefJson, key: string): number[] {
  const list = (node.attr?.[key] as { list?: { i?: Array<string | number> } } | undefined)?.list?.i;
  return (list ?? []).map(Number);
}
const bit = (mask: number, axis: number): boolean => ((mask >> axis) & 1) === 1;

export class StepGraphPlanner {
  private readonly forms = new Map<string, Form>();
  private readonly nodes: NodeDefJson[] = [];
  private readonly consts: StepGraph['consts'] = [];
  private readonly caches = new Map<string, CacheEntry>();
  private readonly rowSlices = new Map<string, string>();
  /** Step tensors holding the whole sequence of a prefill output (`node:k`): the caches MbqRopeAppendKv appends to. */
  private readonly presents = new Map<string, string>();
  private rowNodes = 0;
  private readonly fullNodes: string[] = [];

  constructor(
    private readonly info: ReadonlyMap<string, ProbedNode>,
    private readonly constants: ConstValues,
    private readonly order: readonly string[],
  ) {}

  plan(logitsNode: string): StepGraph {
    for (const name of this.order) {
      const i = this.info.get(name)!;
      if (!i.dynamic) { this.forms.set(name, { kind: 'fixed' }); continue; }
      let form: Form | null = null;
      if (i.shape1) form = this.rowRule(i);
      if (!form) { form = { kind: 'full' }; this.fullNodes.push(name); } else this.rowNodes++;
      this.forms.set(name, form);
    }
    const out = this.forms.get(nodeName(logitsNode));
    if (!out || out.kind !== 'row') throw new Error(`the logits node '${logitsNode}' has no single-position form (the graph mixes positions in a way the planner does not follow)`);
    const logits = this.add({ name: `${STEP_PREFIX}output/logits`, op: 'Identity', input: [out.ref], attr: { T: { type: 'DT_FLOAT' } } });
    const names = new Set([...this.info.keys()]);
    for (const node of this.nodes) {
      if (names.has(node.name)) throw new Error(`step graph: node name '${node.name}' is already taken`);
      names.add(node.name);
    }
    return {
      nodes: this.nodes,
      consts: this.consts,
      logits,
      caches: [...this.caches.values()],
      frontier: this.frontier([logits, ...[...this.caches.values()].map((c) => c.present)]),
      rowNodes: this.rowNodes,
      fullNodes: this.fullNodes,
    };
  }

  /** Prefill nodes (image-only) a step reads, found by walking back from the step outputs. */
  private frontier(outputs: string[]): string[] {
    const stepNodes = new Map(this.nodes.map((n) => [n.name, n]));
    const seen = new Set<string>();
    const found = new Set<string>();
    const stack = [...outputs];
    while (stack.length) {
      const ref = stack.pop()!;
      const name = nodeName(ref);
      // The prefill's values are captured and fed by node name, i.e. output 0 (an image-only
      // MbqAddRmsNorm's sum is output 1): refused here, so loading falls back to re-running.
      if (outputIndex(ref) !== 0 && this.info.get(name)?.imageOnly && !stepNodes.has(name)) {
        throw new Error(`the step would read output ${outputIndex(ref)} of the image-only node '${name}'; prefill values are fed by node name (output 0)`);
      }
      if (seen.has(name)) continue;
      seen.add(name);
      const step = stepNodes.get(name);
      if (step) { stack.push(...(step.input ?? []).filter((r) => !r.startsWith('^'))); continue; }
      const i = this.info.get(name);
      if (!i) continue;
      if (i.imageOnly) { found.add(name); continue; }
      stack.push(...i.inputs);
    }
    return [...found];
  }

  /** Nodes the step runs over the full sequence that are heavy (matmuls): ideally none. */
  heavyFullNodes(graph: StepGraph): string[] {
    const stepNodes = new Map(graph.nodes.map((n) => [n.name, n]));
    const seen = new Set<string>();
    const heavy: string[] = [];
    const stack = [graph.logits, ...graph.caches.map((c) => c.present)];
    while (stack.length) {
      const name = nodeName(stack.pop()!);
      if (seen.has(name)) continue;
      seen.add(name);
      const step = stepNodes.get(name);
      if (step) { stack.push(...(step.input ?? []).filter((r) => !r.startsWith('^') && !graph.caches.some((c) => c.past === r))); continue; }
      const i = this.info.get(name);
      if (!i || !i.dynamic) continue;
      if (HEAVY_OPS.has(i.node.op)) heavy.push(name);
      stack.push(...i.inputs);
    }
    return heavy;
  }

  private add(node: NodeDefJson): string {
    this.nodes.push(node);
    return node.name;
  }

  private intConst(name: string, values: number[], shape: number[] = [values.length]): string {
    this.consts.push({ name, values, shape });
    return this.add({ name, op: 'Const', attr: { dtype: { type: 'DT_INT32' }, value: { tensor: { dtype: 'DT_INT32', tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } } } });
  }

  private formOf(ref: string): Form {
    const f = this.forms.get(nodeName(ref));
    if (!f) throw new Error(`step planner: '${ref}' visited before its producer`);
    const k = outputIndex(ref);
    // Only output 0 of a node has a row form (and all outputs of a same-shape op); others stay full.
    if (f.kind === 'row' && k !== 0) return this.sameShape(ref) ? { kind: 'row', axis: f.axis, ref: `${f.ref}:${k}` } : { kind: 'full' };
    return f;
  }

  /** Whether `ref` has output 0's shape (the probe records output 0's only). */
  private sameShape(ref: string): boolean {
    return outputIndex(ref) === 0 || SAME_SHAPE_OUTPUTS.has(this.info.get(nodeName(ref))?.node.op ?? '');
  }

  private shapeOf(ref: string): number[] | null {
    return this.sameShape(ref) ? this.info.get(nodeName(ref))?.shape1 ?? null : null;
  }

  private seqOf(ref: string): number[] {
    return this.sameShape(ref) ? seqAxes(this.info.get(nodeName(ref))!) : [];
  }

  /** The last position along `axis` of the full (original) tensor `ref`. */
  private rowOfFull(ref: string, axis: number): string | null {
    const shape = this.shapeOf(ref);
    if (!shape || !this.seqOf(ref).includes(axis)) return null;
    const key = `${ref}@${axis}`;
    const done = this.rowSlices.get(key);
    if (done) return done;
    const rank = shape.length;
    const base = `${STEP_PREFIX}row/${ref.replace(/:/g, '_')}/axis${axis}`;
    const begin = new Array<number>(rank).fill(0);
    begin[axis] = -1;
    const all = (1 << rank) - 1;
    const name = this.add({
      name: base, op: 'StridedSlice',
      input: [ref, this.intConst(`${base}/begin`, begin), this.intConst(`${base}/end`, new Array<number>(rank).fill(0)), this.intConst(`${base}/strides`, new Array<number>(rank).fill(1))],
      attr: { Index: { type: 'DT_INT32' }, begin_mask: { i: String(all & ~(1 << axis)) }, end_mask: { i: String(all) }, ellipsis_mask: { i: '0' }, new_axis_mask: { i: '0' }, shrink_axis_mask: { i: '0' } },
    });
    this.rowSlices.set(key, name);
    return name;
  }

  /** Row form of input `ref` at `axis` (slicing a full one), or null. */
  private asRow(ref: string, axis: number): string | null {
    const f = this.formOf(ref);
    if (f.kind === 'row') return f.axis === axis ? f.ref : null;
    if (f.kind === 'full') return this.rowOfFull(ref, axis);
    return null;
  }

  /** Full form of a dynamic input: the original node, or the KV cache for a row-form one. */
  private asFull(ref: string): string | null {
    const appended = this.presents.get(`${nodeName(ref)}:${outputIndex(ref)}`);
    if (appended) return appended;
    const f = this.formOf(ref);
    if (f.kind !== 'row') return ref;
    // Caches are per node (output 0); a residual sum (MbqAddRmsNorm:1) is never attended over.
    if (outputIndex(ref) !== 0) return null;
    const name = nodeName(ref);
    const existing = this.caches.get(name);
    if (existing) return existing.present;
    const i = this.info.get(name)!;
    if (!i.shape1 || !i.dtype) return null;
    const base = `${STEP_PREFIX}cache/${name}`;
    const dims = i.shape1.map((d, a) => ({ size: String(a === f.axis ? -1 : d) }));
    const dt = i.dtype === 'int32' ? 'DT_INT32' : i.dtype === 'bool' ? 'DT_BOOL' : 'DT_FLOAT';
    const past = this.add({ name: `${base}/past`, op: 'Placeholder', attr: { dtype: { type: dt }, shape: { shape: { dim: dims } } } });
    const present = this.add({
      name: `${base}/present`, op: 'ConcatV2', input: [past, f.ref, this.intConst(`${base}/axis`, [f.axis], [])],
      attr: { N: { i: '2' }, T: { type: dt }, Tidx: { type: 'DT_INT32' } },
    });
    this.caches.set(name, { node: name, axis: f.axis, past, present, dtype: i.dtype });
    return present;
  }

  /** A copy of `node` in the step graph with new inputs (and optionally attrs). */
  private emit(node: NodeDefJson, inputs: string[], axis: number, attr?: NodeDefJson['attr']): Form {
    const ref = this.add({ name: `${STEP_PREFIX}${node.name}`, op: node.op, input: inputs, attr: attr ?? node.attr });
    return { kind: 'row', axis, ref };
  }

  private rowRule(i: ProbedNode): Form | null {
    const n = i.node;
    if (!this.seqOf(n.name).length) return null;
    if (UNARY.has(n.op) || BINARY.has(n.op)) return this.elementwise(i);
    if (ROW_WISE.has(n.op)) {
      const f = this.elementwise(i);
      return f && f.kind === 'row' && f.axis < i.shape1!.length - 1 ? f : null;
    }
    if (n.op === MBQ_ATTENTION_OP) return this.attention(i);
    if (n.op === MBQ_ROPE_APPEND_KV_OP) return this.ropeAppendKv(i);
    if (LINEAR.has(n.op)) return this.linear(i);
    if (n.op === 'BatchMatMul' || n.op === 'BatchMatMulV2' || n.op === 'BatchMatMulV3') return this.batchMatMul(i);
    if (n.op === 'Softmax' || n.op === 'LogSoftmax') {
      const r = this.pickRow(i.inputs[0]!, (a) => a !== i.shape1!.length - 1);
      return r ? this.emit(n, [r.ref], r.axis) : null;
    }
    if (REDUCE.has(n.op)) return this.reduce(i);
    if (n.op === 'StridedSlice') return this.stridedSlice(i);
    if (n.op === 'ConcatV2') return this.concat(i);
    if (n.op === 'GatherV2' || n.op === 'Gather') return this.gather(i);
    if (n.op === 'Transpose') {
      const perm = this.constants.ints(nodeName(i.inputs[1]!));
      const r = perm && this.pickRow(i.inputs[0]!, () => true);
      return perm && r ? this.emit(n, [r.ref, i.inputs[1]!], perm.indexOf(r.axis)) : null;
    }
    if (n.op === 'Reshape') return this.reshape(i);
    if (n.op === 'ExpandDims') {
      const ax = this.constants.ints(nodeName(i.inputs[1]!));
      const r = ax && this.pickRow(i.inputs[0]!, () => true);
      if (!ax || !r) return null;
      const a = ax[0]! < 0 ? ax[0]! + i.shape1!.length : ax[0]!;
      return this.emit(n, [r.ref, i.inputs[1]!], a <= r.axis ? r.axis + 1 : r.axis);
    }
    return null;
  }

  /** Row form of a single activation input: its row form, or a slice of its only sequence axis. */
  private pickRow(ref: string, allowed: (axis: number) => boolean): { ref: string; axis: number } | null {
    const f = this.formOf(ref);
    if (f.kind === 'row') return allowed(f.axis) ? { ref: f.ref, axis: f.axis } : null;
    if (f.kind !== 'full') return null;
    const axes = this.seqOf(ref);
    if (axes.length !== 1 || !allowed(axes[0]!)) return null;
    const r = this.rowOfFull(ref, axes[0]!);
    return r ? { ref: r, axis: axes[0]! } : null;
  }

  private elementwise(i: ProbedNode): Form | null {
    const outRank = i.shape1!.length;
    const dataInputs = i.node.op === 'ClipByValue' || i.node.op === 'LeakyRelu' ? i.inputs.slice(0, 1) : i.inputs;
    const shift = (ref: string): number => outRank - (this.shapeOf(ref)?.length ?? outRank);
    // The output row axis: from row-form inputs, else from full inputs with one sequence axis.
    const candidates = new Set<number>();
    let anyRow = false;
    for (const ref of dataInputs) {
      const f = this.formOf(ref);
      if (f.kind === 'row') { candidates.add(f.axis + shift(ref)); anyRow = true; }
    }
    if (!anyRow) {
      for (const ref of dataInputs) {
        if (this.formOf(ref).kind !== 'full') continue;
        const axes = this.seqOf(ref);
        if (axes.length !== 1) return null;
        candidates.add(axes[0]! + shift(ref));
      }
    }
    if (candidates.size !== 1) return null;
    const axis = [...candidates][0]!;
    const inputs: string[] = [];
    for (const ref of i.inputs) {
      if (!dataInputs.includes(ref)) { inputs.push(ref); continue; }
      const f = this.formOf(ref);
      const shape = this.shapeOf(ref);
      const a = axis - shift(ref);
      if (f.kind === 'row') { inputs.push(f.ref); continue; }
      // Fixed or full input: broadcast along the row axis (size 1 or absent) or slice its last row.
      if (!shape) return null;
      if (a < 0 || shape[a] === 1) { inputs.push(ref); continue; }
      if (f.kind === 'fixed') return null;
      const r = this.rowOfFull(ref, a);
      if (!r) return null;
      inputs.push(r);
    }
    return this.emit(i.node, inputs, axis);
  }

  private linear(i: ProbedNode): Form | null {
    const n = i.node;
    if (attrBool(n, 'transpose_a')) return null;
    if (i.inputs.slice(1).some((r) => this.formOf(r).kind !== 'fixed')) return null;
    const rank = this.shapeOf(i.inputs[0]!)?.length ?? 0;
    const r = this.pickRow(i.inputs[0]!, (a) => a < rank - 1);
    return r ? this.emit(n, [r.ref, ...i.inputs.slice(1)], r.axis) : null;
  }

  private batchMatMul(i: ProbedNode): Form | null {
    const n = i.node;
    if (attrBool(n, 'adj_x')) return null;
    const [aRef, bRef] = i.inputs as [string, string];
    const ra = this.shapeOf(aRef)?.length ?? 0;
    const a = this.pickRow(aRef, (ax) => ax === ra - 2);
    if (!a) return null;
    let b = bRef;
    if (this.formOf(bRef).kind !== 'fixed') {
      const full = this.asFull(bRef);
      if (!full) return null;
      b = full;
    }
    return this.emit(n, [a.ref, b], i.shape1!.length - 2);
  }

  /** MbqAttention(q, k, v, mask): the new token's q row against the cached k and v, its mask row. */
  private attention(i: ProbedNode): Form | null {
    const [qRef, kRef, vRef, maskRef] = i.inputs as [string, string, string, string];
    const q = this.pickRow(qRef, (a) => a === 1);
    const k = this.asFull(kRef);
    const v = this.asFull(vRef);
    const mask = this.asRow(maskRef, 0);
    return q && k && v && mask ? this.emit(i.node, [q.ref, k, v, mask], 1) : null;
  }

  /**
   * MbqRopeAppendKv(qkv, cos, sin) -> MbqRopeAppendKv(qkv row, cos row, sin row, k past, v past):
   * output 0 the new token's q row, outputs 1 and 2 the caches with its k and v appended (the
   * step outputs; the prefill's outputs 1 and 2 seed them).
   */
  private ropeAppendKv(i: ProbedNode): Form | null {
    const n = i.node;
    if (i.inputs.length !== 3) return null;
    const [qkvRef, cosRef, sinRef] = i.inputs as [string, string, string];
    const qkvShape = this.shapeOf(qkvRef);
    const x = this.pickRow(qkvRef, (a) => a === 1);
    if (!x || !qkvShape || qkvShape.length !== 3) return null;
    // cos/sin rows broadcast against qkv's [B, S] rows: their sequence axis (if any) ends at qkv's axis 1.
    const table = (ref: string): string | null => {
      const shape = this.shapeOf(ref);
      if (!shape) return null;
      const a = 1 - (3 - shape.length);
      if (a < 0 || shape[a] === 1) return ref;
      return this.formOf(ref).kind === 'fixed' ? null : this.asRow(ref, a);
    };
    const cos = table(cosRef), sin = table(sinRef);
    if (!cos || !sin) return null;
    let K: number;
    try {
      const a = decodeRopeAppendKvAttrs((name) => (n.attr?.[name] as { i?: string | number } | undefined)?.i, `node '${n.name}'`);
      K = a.kvHeads * a.headDim;
    } catch { return null; }
    const dims = [qkvShape[0]!, -1, K].map((d) => ({ size: String(d) }));
    const past = (which: string): string => this.add({
      name: `${STEP_PREFIX}cache/${n.name}/${which}/past`, op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: dims } } },
    });
    const kPast = past('k'), vPast = past('v');
    const f = this.emit(n, [x.ref, cos, sin, kPast, vPast], 1);
    if (f.kind !== 'row') return null;
    for (const [k, p] of [[1, kPast], [2, vPast]] as const) {
      const node = `${n.name}:${k}`;
      const present = `${f.ref}:${k}`;
      this.caches.set(node, { node, axis: 1, past: p, present, dtype: 'float32' });
      this.presents.set(node, present);
    }
    return f;
  }

  private reduce(i: ProbedNode): Form | null {
    const axesConst = this.constants.ints(nodeName(i.inputs[1]!));
    const rank = this.shapeOf(i.inputs[0]!)?.length;
    if (!axesConst || rank === undefined) return null;
    const axes = axesConst.map((a) => (a < 0 ? a + rank : a));
    const r = this.pickRow(i.inputs[0]!, (a) => !axes.includes(a));
    if (!r) return null;
    const keep = attrBool(i.node, 'keep_dims');
    return this.emit(i.node, [r.ref, i.inputs[1]!], keep ? r.axis : r.axis - axes.filter((a) => a < r.axis).length);
  }

  private stridedSlice(i: ProbedNode): Form | null {
    const n = i.node;
    if (attrInt(n, 'ellipsis_mask') || attrInt(n, 'new_axis_mask') || attrInt(n, 'shrink_axis_mask')) return null;
    const begin = this.constants.ints(nodeName(i.inputs[1]!));
    const end = this.constants.ints(nodeName(i.inputs[2]!));
    const strides = this.constants.ints(nodeName(i.inputs[3]!));
    if (!begin || !end || !strides) return null;
    const endMask = attrInt(n, 'end_mask');
    const r = this.pickRow(i.inputs[0]!, (a) => strides[a] === 1 && bit(endMask, a) && this.seqOf(n.name).includes(a));
    if (!r) return null;
    // Along the row axis the slice runs to the end, so its last row is the input's last row:
    // take the whole (single-row) axis and keep the other axes' slicing.
    const b = begin.slice();
    b[r.axis] = 0;
    const base = `${STEP_PREFIX}${n.name}`;
    return this.emit(n, [r.ref, this.intConst(`${base}/begin`, b), i.inputs[2]!, i.inputs[3]!], r.axis,
      { ...n.attr, begin_mask: { i: String(attrInt(n, 'begin_mask') | (1 << r.axis)) } });
  }

  private concat(i: ProbedNode): Form | null {
    const n = i.node;
    const parts = i.inputs.slice(0, -1);
    const axisConst = this.constants.ints(nodeName(i.inputs[i.inputs.length - 1]!));
    if (!axisConst) return null;
    const rank = i.shape1!.length;
    const axis = axisConst[0]! < 0 ? axisConst[0]! + rank : axisConst[0]!;
    if (this.seqOf(n.name).includes(axis)) {
      // Concatenation along the sequence: the last row is the last input's last row.
      const last = parts[parts.length - 1]!;
      if (this.formOf(last).kind === 'fixed') return null;
      const r = this.asRow(last, axis);
      return r ? { kind: 'row', axis, ref: r } : null;
    }
    let rowAxis: number | null = null;
    for (const p of parts) {
      const f = this.formOf(p);
      if (f.kind === 'fixed') return null;
      if (f.kind === 'row') rowAxis ??= f.axis;
    }
    if (rowAxis === null) {
      const axes = this.seqOf(parts[0]!);
      if (axes.length !== 1) return null;
      rowAxis = axes[0]!;
    }
    const rows = parts.map((p) => this.asRow(p, rowAxis!));
    if (rows.some((r) => r === null)) return null;
    return this.emit(n, [...(rows as string[]), i.inputs[i.inputs.length - 1]!], rowAxis);
  }

  private gather(i: ProbedNode): Form | null {
    const n = i.node;
    if (attrInt(n, 'batch_dims')) return null;
    const [params, indices, axisRef] = i.inputs as [string, string, string | undefined];
    const axisVal = axisRef === undefined ? [0] : this.constants.ints(nodeName(axisRef));
    const pShape = this.shapeOf(params);
    const iShape = this.shapeOf(indices);
    if (!axisVal || !pShape || !iShape) return null;
    const axis = axisVal[0]! < 0 ? axisVal[0]! + pShape.length : axisVal[0]!;
    const pf = this.formOf(params);
    const rest = axisRef === undefined ? [] : [axisRef];
    if (pf.kind === 'fixed') {
      const r = this.pickRow(indices, () => true);
      return r ? this.emit(n, [params, r.ref, ...rest], axis + r.axis) : null;
    }
    if (pf.kind === 'row' && pf.axis !== axis) {
      // Rows of a row-form table, looked up with full indices (e.g. causal-mask columns).
      const idx = this.formOf(indices).kind === 'row' ? this.asFull(indices) : indices;
      if (!idx) return null;
      return this.emit(n, [pf.ref, idx, ...rest], pf.axis < axis ? pf.axis : pf.axis + iShape.length - 1);
    }
    return null;
  }

  private reshape(i: ProbedNode): Form | null {
    const inAxes = this.seqOf(i.inputs[0]!);
    const outAxes = this.seqOf(i.node.name);
    if (inAxes.length !== 1 || outAxes.length !== 1) return null;
    const r = this.pickRow(i.inputs[0]!, (a) => a === inAxes[0]);
    if (!r) return null;
    const shape = i.shape1!.slice();
    shape[outAxes[0]!] = 1;
    const base = `${STEP_PREFIX}${i.node.name}`;
    return this.emit(i.node, [r.ref, this.intConst(`${base}/shape`, shape)], outAxes[0]!);
  }
}
