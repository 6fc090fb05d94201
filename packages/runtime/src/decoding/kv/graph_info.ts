/** What the step-graph planner knows about each node of the prefill graph. */
import type { NodeDefJson } from '../../model_files.js';

export interface ProbedNode {
  node: NodeDefJson;
  /** Data inputs as written (`name` or `name:k`); control inputs dropped. */
  inputs: string[];
  /** Depends on `input_ids` (its values or its length). */
  dynamic: boolean;
  /** Depends on `pixel_values` (and not on `input_ids`). */
  imageOnly: boolean;
  /** Output 0's shape at probe lengths S1 and S1 + 1; null if the probe did not compute it. */
  shape1: number[] | null;
  shape2: number[] | null;
  dtype: string | null;
}

export function nodeName(ref: string): string {
  return ref.replace(/^\^/, '').replace(/:\d+$/, '');
}

export function outputIndex(ref: string): number {
  const m = /:(\d+)$/.exec(ref);
  return m ? Number(m[1]) : 0;
}

/** Axes whose size grows by one when the sequence grows by one. */
export function seqAxes(info: ProbedNode): number[] {
  const { shape1: a, shape2: b } = info;
  if (!a || !b || a.length !== b.length) return [];
  return a.map((d, i) => (b[i]! - d === 1 ? i : -1)).filter((i) => i >= 0);
}

/** Topological order plus dependency flags for every node. */
export function analyseDependencies(nodes: NodeDefJson[]): Map<string, Omit<ProbedNode, 'shape1' | 'shape2' | 'dtype'>> {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const out = new Map<string, Omit<ProbedNode, 'shape1' | 'shape2' | 'dtype'>>();
  const visiting = new Set<string>();
  const visit = (name: string): void => {
    if (out.has(name)) return;
    const node = byName.get(name);
    if (!node) throw new Error(`graph: node '${name}' is referenced but not defined`);
    if (visiting.has(name)) throw new Error(`graph: cycle through '${name}'`);
    visiting.add(name);
    const inputs = (node.input ?? []).filter((r) => !r.startsWith('^'));
    let dynamic = node.name === 'input_ids';
    let image = node.name === 'pixel_values';
    for (const r of inputs) {
      visit(nodeName(r));
      const i = out.get(nodeName(r))!;
      dynamic ||= i.dynamic;
      image ||= i.imageOnly || nodeName(r) === 'pixel_values';
    }
    visiting.delete(name);
    out.set(name, { node, inputs, dynamic, imageOnly: image && !dynamic });
  };
  for (const n of nodes) visit(n.name);
  return out;
}
