/**
 * Runs a GraphDef JSON with tfjs ops: only the nodes needed for the fetches, feeds at any tensor,
 * per-node overrides (pseudo-quantized linears) and additive probes (for tf.grad sensitivity).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphDefJson, NodeDefJson } from './types.js';
import type { WeightMap, WeightArray } from '../io/weights.js';
import { ConversionError } from '../io/errors.js';
import { canonicalTensor, dataInputs, parseTensorName, tensorKey } from './attrs.js';
import { OPS, SUPPORTED_OPS, tfDtype } from './ops.js';

/** Computes a node from its data inputs in place of the graph's own op. */
export type NodeOverride = (inputs: tf.Tensor[], node: NodeDefJson) => tf.Tensor;

export interface ExecuteOptions {
  /** Nodes run by a function instead of their op (e.g. a linear with a quantized weight), by node name. */
  nodeOverrides?: ReadonlyMap<string, NodeOverride>;
  /** Tensor added to a node's (first) output: zero probes whose gradient is dLoss/dY. */
  addToOutput?: ReadonlyMap<string, tf.Tensor>;
  /** Dispose intermediates inside a tf.tidy (default true). */
  tidy?: boolean;
  /**
   * Do not cache Const tensors made by this pass: each is made at its first reader and freed after
   * its last, so a full-model pass holds about one block's weights at a time (with tidy only;
   * consts already cached are used as they are).
   */
  streamConsts?: boolean;
}

function weightToTensor(w: WeightArray): tf.Tensor {
  return tf.tensor(w.data, w.shape, w.dtype);
}

/**
 * The same plan with each Const moved to just before its first reader (a depth-first order puts
 * them all first): with streamConsts a pass then holds only the weights in use.
 */
function constsBeforeFirstReader(order: readonly NodeDefJson[]): NodeDefJson[] {
  const consts = new Map(order.filter((n) => n.op === 'Const').map((n) => [n.name, n]));
  const out: NodeDefJson[] = [];
  for (const node of order) {
    if (node.op === 'Const') continue;
    for (const key of dataInputs(node)) {
      const c = consts.get(parseTensorName(key).node);
      if (c) { out.push(c); consts.delete(c.name); }
    }
    out.push(node);
  }
  out.push(...consts.values()); // fetched directly, read by no node
  return out;
}

/** How many times each tensor is read by the nodes of a plan. */
function readerCounts(plan: readonly NodeDefJson[]): Map<string, number> {
  const uses = new Map<string, number>();
  for (const node of plan) for (const key of dataInputs(node)) uses.set(key, (uses.get(key) ?? 0) + 1);
  return uses;
}

export class GraphExecutor {
  nodes: Map<string, NodeDefJson>;
  private readonly consts = new Map<string, tf.Tensor>();
  private readonly planCache = new Map<string, NodeDefJson[]>();

  constructor(readonly graph: GraphDefJson, readonly weights: WeightMap) {
    this.nodes = new Map(graph.node.map((n) => [n.name, n]));
  }

  /** Re-reads the graph after nodes were inserted or rewired (drops cached plans). */
  refresh(): void {
    this.nodes = new Map(this.graph.node.map((n) => [n.name, n]));
    this.planCache.clear();
  }

  /** Throws for the first op the executor cannot run, naming the node. */
  checkSupported(): void {
    for (const n of this.graph.node) {
      if (!SUPPORTED_OPS.has(n.op)) {
        throw new ConversionError('UNSUPPORTED_OP', `node "${n.name}": op ${n.op} is not supported by the converter's executor`, n.name);
      }
    }
  }

  /** Nodes needed to compute `fetches` given `feeds`, in topological order. */
  plan(feeds: readonly string[], fetches: readonly string[]): NodeDefJson[] {
    const key = `${[...feeds].sort().join(',')}|${fetches.join(',')}`;
    const cached = this.planCache.get(key);
    if (cached) return cached;
    const fed = new Set(feeds.map(canonicalTensor));
    const order: NodeDefJson[] = [];
    const state = new Map<string, 1 | 2>();
    const stack: Array<{ name: string; expanded: boolean }> = [];
    for (const f of fetches) {
      if (!fed.has(canonicalTensor(f))) stack.push({ name: parseTensorName(f).node, expanded: false });
    }
    while (stack.length) {
      const top = stack.pop()!;
      const node = this.nodes.get(top.name);
      if (!node) throw new ConversionError('GRAPH_EXEC', `tensor "${top.name}" is not produced by any node of the graph`, top.name);
      if (top.expanded) {
        if (state.get(top.name) !== 2) { state.set(top.name, 2); order.push(node); }
        continue;
      }
      const s = state.get(top.name);
      if (s === 2) continue;
      if (s === 1) continue; // already on the stack below us; its post-visit will place it
      state.set(top.name, 1);
      stack.push({ name: top.name, expanded: true });
      for (const inp of dataInputs(node)) {
        if (fed.has(inp)) continue;
        const p = parseTensorName(inp).node;
        const ps = state.get(p);
        if (ps === 1) {
          // Either a cycle or a node pending below; verify it is not an ancestor being expanded.
          if (stack.some((e) => e.name === p && e.expanded)) {
            throw new ConversionError('GRAPH_EXEC', `node "${node.name}": the graph has a cycle through "${p}"`, node.name);
          }
        }
        if (ps !== 2) stack.push({ name: p, expanded: false });
      }
    }
    const placed = constsBeforeFirstReader(order);
    this.planCache.set(key, placed);
    return placed;
  }

  private constTensor(node: NodeDefJson, cache = true): tf.Tensor {
    const hit = this.consts.get(node.name);
    if (hit) return hit;
    const w = this.weights.get(node.name);
    let t: tf.Tensor;
    if (w) {
      t = weightToTensor(w);
    } else {
      const v = node.attr?.value?.tensor;
      if (!v) throw new ConversionError('WEIGHTS_MISSING', `Const node "${node.name}" has no value`, node.name);
      const shape = (v.tensorShape?.dim ?? []).map((d) => Number(d.size));
      const dtype = tfDtype(v.dtype);
      const vals = (dtype === 'float32' ? v.floatVal : v.intVal) ?? [];
      const size = shape.reduce((a, b) => a * b, 1);
      const data = vals.length === size ? vals.map(Number) : new Array<number>(size).fill(vals.length ? Number(vals[0]) : 0);
      t = dtype === 'bool' ? tf.tensor(data.map(Boolean), shape, 'bool') : tf.tensor(data, shape, dtype as 'float32' | 'int32');
    }
    if (!cache) return t;
    tf.keep(t);
    this.consts.set(node.name, t);
    return t;
  }

  /** Frees cached constant tensors (all, or the named ones): bounds memory to what runs next. */
  releaseConsts(names?: Iterable<string>): void {
    const list = names ? [...names] : [...this.consts.keys()];
    for (const n of list) {
      this.consts.get(n)?.dispose();
      this.consts.delete(n);
    }
  }

  /** Drops any cached constant whose weight was replaced in the weight map. */
  invalidate(names: Iterable<string>): void { this.releaseConsts(names); }

  execute(feeds: ReadonlyMap<string, tf.Tensor> | Record<string, tf.Tensor>, fetches: readonly string[], opts: ExecuteOptions = {}): tf.Tensor[] {
    const feedMap = feeds instanceof Map ? feeds : new Map(Object.entries(feeds));
    const run = (): tf.Tensor[] => {
      const values = new Map<string, tf.Tensor>();
      for (const [k, v] of feedMap) values.set(canonicalTensor(k), v);
      const plan = this.plan([...values.keys()], fetches);
      // Memory: inside a tidy, free each intermediate after its last reader, so a pass holds only
      // the live activations rather than every block's (tidy: false callers, e.g. a gradient
      // tape, keep them all). Counted per tensor object: Identity-like ops alias their input.
      const release = opts.tidy !== false;
      const uses = release ? readerCounts(plan) : undefined;
      const pending = new Map<tf.Tensor, number>();
      const pinned = new Set<tf.Tensor>(feedMap.values());
      const fetched = new Set(fetches.map(canonicalTensor));
      for (const node of plan) {
        const outs = this.runNode(node, values, opts);
        outs.forEach((t, i) => {
          const key = tensorKey(node.name, i);
          values.set(key, t);
          if (!uses) return;
          if ((node.op === 'Const' && this.consts.get(node.name) === t) || fetched.has(key)) pinned.add(t);
          pending.set(t, (pending.get(t) ?? 0) + (uses.get(key) ?? 0));
        });
        if (!uses) continue;
        for (const key of dataInputs(node)) {
          const t = values.get(key)!;
          const left = (pending.get(t) ?? 0) - 1;
          pending.set(t, left);
          if (left <= 0 && !pinned.has(t)) t.dispose();
        }
      }
      return fetches.map((f) => {
        const t = values.get(canonicalTensor(f));
        if (!t) throw new ConversionError('GRAPH_EXEC', `fetch "${f}" was not computed`, f);
        return t;
      });
    };
    return opts.tidy === false ? run() : tf.tidy(run);
  }

  private runNode(node: NodeDefJson, values: Map<string, tf.Tensor>, opts: ExecuteOptions): tf.Tensor[] {
    if (node.op === 'Const') return [this.constTensor(node, !(opts.streamConsts && opts.tidy !== false))];
    if (node.op === 'Placeholder' || node.op === 'PlaceholderWithDefault') {
      throw new ConversionError('GRAPH_EXEC', `input "${node.name}" must be fed`, node.name);
    }
    if (node.op === 'NoOp') return [];
    const inputs = dataInputs(node).map((name) => {
      const t = values.get(name);
      if (!t) throw new ConversionError('GRAPH_EXEC', `node "${node.name}": input "${name}" was not computed`, node.name);
      return t;
    });
    let outs: tf.Tensor[];
    const override = opts.nodeOverrides?.get(node.name);
    if (override) {
      outs = [override(inputs, node)];
    } else {
      const impl = OPS[node.op];
      if (!impl) throw new ConversionError('UNSUPPORTED_OP', `node "${node.name}": op ${node.op} is not supported by the converter's executor`, node.name);
      try {
        // Own scope per node in a tidy pass: an op's internal temporaries go now, not at the end.
        const r = opts.tidy !== false ? tf.tidy(() => impl(inputs, node)) : impl(inputs, node);
        outs = Array.isArray(r) ? r : [r];
      } catch (e) {
        if (e instanceof ConversionError) throw e;
        throw new ConversionError('GRAPH_EXEC', `node "${node.name}" (${node.op}): ${(e as Error).message}`, node.name);
      }
    }
    const probe = opts.addToOutput?.get(node.name);
    if (probe) outs[0] = tf.add(outs[0], probe);
    return outs;
  }

  dispose(): void {
    this.releaseConsts();
    this.planCache.clear();
  }
}
