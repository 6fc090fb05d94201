/**
 * Applying a channel scale s [K] to a group (docs/algorithm.md §4.5): the linears' input columns are
 * multiplied by s and the fold target divides by s, so the float model is unchanged.
 * Works on plain data (GraphDefJson + WeightMap); modified weights get fresh arrays.
 */
import type { GraphDefJson, NodeDefJson } from './types.js';
import type { WeightMap } from '../io/weights.js';
import type { GraphAnalysis, GroupInfo, LinearInfo } from './analysis.js';
import { ConversionError } from '../io/errors.js';
import { dataInputs } from './attrs.js';

export interface ModelState {
  graph: GraphDefJson;
  weights: WeightMap;
}

function floatWeight(weights: WeightMap, name: string): Float32Array {
  const w = weights.get(name);
  if (!w || !(w.data instanceof Float32Array)) throw new ConversionError('GRAPH_ANALYSIS', `weight "${name}" is missing or not float32`, name);
  return w.data;
}

/** The weight of a linear as [N, K] (a copy). */
export function linearWeightNK(weights: WeightMap, l: LinearInfo): Float32Array {
  const src = floatWeight(weights, l.weightConst);
  if (!l.weightKN) return src.slice();
  const out = new Float32Array(l.N * l.K);
  for (let k = 0; k < l.K; k++) for (let n = 0; n < l.N; n++) out[n * l.K + k] = src[k * l.N + n];
  return out;
}

function scaleInputColumns(weights: WeightMap, l: LinearInfo, s: Float32Array): void {
  const w = floatWeight(weights, l.weightConst).slice();
  if (l.weightKN) for (let k = 0; k < l.K; k++) for (let n = 0; n < l.N; n++) w[k * l.N + n] *= s[k];
  else for (let n = 0; n < l.N; n++) for (let k = 0; k < l.K; k++) w[n * l.K + k] *= s[k];
  weights.set(l.weightConst, { ...weights.get(l.weightConst)!, data: w });
}

function divideOutputColumns(weights: WeightMap, l: LinearInfo, s: Float32Array): void {
  const w = floatWeight(weights, l.weightConst).slice();
  if (l.weightKN) for (let k = 0; k < l.K; k++) for (let n = 0; n < l.N; n++) w[k * l.N + n] /= s[n];
  else for (let n = 0; n < l.N; n++) for (let k = 0; k < l.K; k++) w[n * l.K + k] /= s[n];
  weights.set(l.weightConst, { ...weights.get(l.weightConst)!, data: w });
  if (l.biasConst) {
    const b = floatWeight(weights, l.biasConst).slice();
    for (let n = 0; n < l.N; n++) b[n] /= s[n];
    weights.set(l.biasConst, { ...weights.get(l.biasConst)!, data: b });
  }
}

/** Applies s to one group; returns the names of nodes whose constants changed (for executor caches). */
export function applyGroupScale(state: ModelState, analysis: GraphAnalysis, group: GroupInfo, s: Float32Array): string[] {
  const K = analysis.linears.get(group.linears[0])!.K;
  if (s.length !== K) throw new Error(`applyGroupScale(${group.name}): ${s.length} scales for K = ${K}`);
  const changed: string[] = [];
  for (const id of group.linears) {
    const l = analysis.linears.get(id)!;
    scaleInputColumns(state.weights, l, s);
    changed.push(l.weightConst);
  }
  const fold = group.fold;
  if (fold.kind === 'gamma') {
    const g = floatWeight(state.weights, fold.gammaConst).slice();
    for (let c = 0; c < K; c++) g[c] /= s[c];
    state.weights.set(fold.gammaConst, { ...state.weights.get(fold.gammaConst)!, data: g });
    changed.push(fold.gammaConst);
  } else if (fold.kind === 'linear') {
    const p = analysis.linears.get(fold.linear)!;
    divideOutputColumns(state.weights, p, s);
    changed.push(p.weightConst);
    if (p.biasConst) changed.push(p.biasConst);
  } else {
    const scaleName = `${group.linears[0]}/mbq_smooth/scale`;
    const mulName = `${group.linears[0]}/mbq_smooth`;
    const inv = new Float32Array(K);
    for (let c = 0; c < K; c++) inv[c] = 1 / s[c];
    const constNode: NodeDefJson = {
      name: scaleName, op: 'Const',
      attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: String(K) }] } } } },
    };
    const mulNode: NodeDefJson = { name: mulName, op: 'Mul', input: [fold.tensor, scaleName], attr: { T: { type: 'DT_FLOAT' } } };
    state.weights.set(scaleName, { dtype: 'float32', shape: [K], data: inv });
    const nodes = state.graph.node;
    const at = Math.min(...group.linears.map((id) => nodes.findIndex((n) => n.name === id)));
    nodes.splice(at, 0, constNode, mulNode);
    for (const id of group.linears) {
      const n = nodes.find((x) => x.name === id)!;
      const ins = n.input ?? [];
      const i = ins.findIndex((x) => x === fold.tensor || x === `${fold.tensor}:0`);
      if (i !== 0 || dataInputs(n)[0] !== fold.tensor) throw new Error(`applyGroupScale: linear ${id} does not read ${fold.tensor}`);
      ins[0] = mulName;
      analysis.linears.get(id)!.input = mulName;
    }
    changed.push(scaleName);
  }
  return changed;
}

/** A deep enough copy of the graph that folding can mutate it. */
export function cloneGraph(g: GraphDefJson): GraphDefJson {
  return JSON.parse(JSON.stringify(g)) as GraphDefJson;
}
