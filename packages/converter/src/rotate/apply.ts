/**
 * --rotate: finds the LM's residual-stream readers and writers in the analysed graph, rotates
 * them with rotate/rotateLm (QuaRot-style, exact in float), and inserts the online Hadamard
 * x·H_F in front of every down_proj as a float MatMul node. The caller checks that the float
 * logits did not change (convert.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NodeDefJson } from '../graph/types.js';
import type { GraphAnalysis, LinearInfo } from '../graph/analysis.js';
import { GraphIndex } from '../graph/analysis.js';
import type { ModelState } from '../graph/fold.js';
import { dataInputs, parseTensorName } from '../graph/attrs.js';
import { ConversionError } from '../io/errors.js';
import { rotateLm } from './rotate.js';
import type { LmWeightView, DecoderLayerWeights } from './types.js';

export interface RotationRecord {
  residualSize: number;
  residualConstruction: string;
  downSize: number | null;
  downConstruction: string | null;
  seed: number;
  logitsRelativeError?: number;
}

function refuse(node: string, msg: string): never {
  throw new ConversionError('GRAPH_ANALYSIS', `--rotate: node "${node}": ${msg}`, node);
}

/** Readers/writers of the residual stream, by Const name. */
interface ResidualSites {
  embed: string;
  vision?: { weight: string; bias?: string };
  finalNorm: string;
  lmHead: LinearInfo;
}

function findSites(state: ModelState, analysis: GraphAnalysis): ResidualSites {
  const g = new GraphIndex(state.graph);
  const D = analysis.linears.get(analysis.blocks[0].o)!.N;
  const isConstVec = (t: string): string | undefined => {
    const c = g.constSource(t);
    const w = c ? state.weights.get(c) : undefined;
    return w && w.shape.length === 1 && w.shape[0] === D ? c : undefined;
  };
  // Writers before block 0: walk back from its input through concat/slices/bias adds.
  let embed: string | undefined;
  let vision: ResidualSites['vision'];
  const stack = [analysis.blocks[0].input];
  const seen = new Set<string>();
  while (stack.length) {
    const t = stack.pop()!;
    const n = g.node(t);
    if (seen.has(n.name)) continue;
    seen.add(n.name);
    const lin = analysis.linears.get(n.name);
    if (lin) {
      if (vision || lin.N !== D || !lin.weightKN) refuse(n.name, 'unexpected linear writing into the residual stream before the first block');
      vision = { weight: lin.weightConst, bias: lin.biasConst };
      continue;
    }
    const ins = dataInputs(n);
    if (n.op === 'GatherV2' || n.op === 'Gather') {
      const c = g.constSource(ins[0]);
      const w = c ? state.weights.get(c) : undefined;
      if (!c || !w || w.shape.length !== 2 || w.shape[1] !== D || embed) refuse(n.name, 'expected one token-embedding lookup [vocab, hidden]');
      embed = c;
      continue;
    }
    if ((n.op === 'AddV2' || n.op === 'Add' || n.op === 'BiasAdd') && ins.some((i) => isConstVec(i))) {
      const bias = ins.find((i) => isConstVec(i))!;
      const other = ins.find((i) => i !== bias)!;
      const l = analysis.linears.get(g.node(other).name);
      if (!l) refuse(n.name, 'a bias added to something other than a linear before the first block');
      if (vision) refuse(n.name, 'two projector outputs');
      if (!l.weightKN || l.N !== D) refuse(l.node, 'projector output is not [K, hidden]');
      vision = { weight: l.weightConst, bias: isConstVec(bias) };
      seen.add(l.node);
      continue;
    }
    if (['ConcatV2', 'StridedSlice', 'Slice', 'Identity', 'Reshape'].includes(n.op)) {
      for (const i of ins) if (!g.constSource(i)) stack.push(i);
      continue;
    }
    refuse(n.name, `op ${n.op} between the embeddings and the first block is not supported by the rotation`);
  }
  if (!embed) refuse(analysis.blocks[0].input, 'no token embedding found before the first block');
  // After the last block: final norm gamma, then lm_head.
  const last = analysis.blocks[analysis.blocks.length - 1];
  const heads = analysis.otherLinears.map((id) => analysis.linears.get(id)!).filter((l) => l.K === D && dependsOn(g, l.input, last.output));
  if (heads.length !== 1) refuse(last.output, `expected one lm_head after the last block, found ${heads.length}`);
  const lmHead = heads[0];
  if (!lmHead.weightKN || lmHead.biasConst) refuse(lmHead.node, 'lm_head must be x·W [hidden, vocab] without bias');
  const mul = g.node(lmHead.input);
  const gamma = mul.op === 'Mul' ? dataInputs(mul).map(isConstVec).find(Boolean) : undefined;
  if (!gamma || g.consumersOf(mul.name).length !== 1) refuse(mul.name, 'the final norm must end in a Mul by its gamma read only by lm_head');
  return { embed, vision, finalNorm: gamma, lmHead };
}

function dependsOn(g: GraphIndex, tensor: string, target: string): boolean {
  const goal = parseTensorName(target).node;
  const stack = [parseTensorName(tensor).node];
  const seen = new Set<string>();
  while (stack.length) {
    const n = stack.pop()!;
    if (n === goal) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const i of dataInputs(g.nodes.get(n)!)) stack.push(parseTensorName(i).node);
  }
  return false;
}

export async function applyRotation(state: ModelState, analysis: GraphAnalysis, seed: number): Promise<RotationRecord> {
  const sites = findSites(state, analysis);
  const W = state.weights;
  const t2 = (name: string): tf.Tensor2D => { const w = W.get(name)!; return tf.tensor2d(w.data as Float32Array, w.shape as [number, number]); };
  const t1 = (name: string): tf.Tensor1D => tf.tensor1d(W.get(name)!.data as Float32Array);
  const lin = (id: string): LinearInfo => {
    const l = analysis.linears.get(id)!;
    if (!l.weightKN) refuse(id, 'rotation needs x·W weights stored [K, N]');
    return l;
  };
  const gammaOf = (b: GraphAnalysis['blocks'][number], name: 'attn-in' | 'mlp-in'): string => {
    const f = b.groups.find((x) => x.name === name)!.fold;
    if (f.kind !== 'gamma') refuse(b.groups.find((x) => x.name === name)!.linears[0], `rotation needs an RMSNorm gamma in front of ${name}`);
    return f.gammaConst;
  };
  tf.engine().startScope();
  try {
    const view: LmWeightView = {
      embedTokens: t2(sites.embed),
      visionOut: sites.vision ? { weight: t2(sites.vision.weight), bias: sites.vision.bias ? t1(sites.vision.bias) : undefined } : undefined,
      layers: analysis.blocks.map((b): DecoderLayerWeights => ({
        inputNorm: t1(gammaOf(b, 'attn-in')),
        q: t2(lin(b.q).weightConst), k: t2(lin(b.k).weightConst), v: t2(lin(b.v).weightConst),
        o: t2(lin(b.o).weightConst), oBias: lin(b.o).biasConst ? t1(lin(b.o).biasConst!) : undefined,
        postNorm: t1(gammaOf(b, 'mlp-in')),
        gate: t2(lin(b.gate).weightConst), up: t2(lin(b.up).weightConst),
        down: t2(lin(b.down).weightConst), downBias: lin(b.down).biasConst ? t1(lin(b.down).biasConst!) : undefined,
      })),
      finalNorm: t1(sites.finalNorm),
      lmHead: t2(sites.lmHead.weightConst),
    };
    const r = rotateLm(view, { seed });
    // Rotated weights are collected, then read from the device together.
    const results: Array<[string, tf.Tensor]> = [];
    const put = (name: string, t: tf.Tensor | undefined): void => { if (t) results.push([name, t]); };
    put(sites.embed, r.weights.embedTokens);
    if (sites.vision) { put(sites.vision.weight, r.weights.visionOut!.weight); if (sites.vision.bias) put(sites.vision.bias, r.weights.visionOut!.bias); }
    put(sites.finalNorm, r.weights.finalNorm);
    put(sites.lmHead.weightConst, r.weights.lmHead);
    analysis.blocks.forEach((b, i) => {
      const l = r.weights.layers[i];
      put(gammaOf(b, 'attn-in'), l.inputNorm); put(gammaOf(b, 'mlp-in'), l.postNorm);
      put(lin(b.q).weightConst, l.q); put(lin(b.k).weightConst, l.k); put(lin(b.v).weightConst, l.v);
      put(lin(b.o).weightConst, l.o); if (lin(b.o).biasConst) put(lin(b.o).biasConst!, l.oBias);
      put(lin(b.gate).weightConst, l.gate); put(lin(b.up).weightConst, l.up);
      put(lin(b.down).weightConst, l.down); if (lin(b.down).biasConst) put(lin(b.down).biasConst!, l.downBias);
    });
    const values = await Promise.all(results.map(([, t]) => t.data() as Promise<Float32Array>));
    results.forEach(([name], i) => W.set(name, { dtype: 'float32', shape: [...W.get(name)!.shape], data: values[i] }));
    if (r.downInputRotation) {
      const F = r.downInputRotation.shape[0];
      const h = await r.downInputRotation.data() as Float32Array;
      for (const b of analysis.blocks) insertHadamard(state, analysis, b, h, F);
    }
    return {
      residualSize: r.residualHadamard.size, residualConstruction: r.residualHadamard.construction,
      downSize: r.downHadamard?.size ?? null, downConstruction: r.downHadamard?.construction ?? null, seed,
    };
  } finally {
    tf.engine().endScope();
  }
}

/** x -> x·H_F in front of down_proj; the mlp-out scale then needs its own Mul (up's rows no longer map 1:1). */
function insertHadamard(state: ModelState, analysis: GraphAnalysis, b: GraphAnalysis['blocks'][number], h: Float32Array, F: number): void {
  const down = analysis.linears.get(b.down)!;
  const hName = `${b.down}/mbq_hadamard`;
  const constNode: NodeDefJson = { name: `${hName}/weight`, op: 'Const', attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: String(F) }, { size: String(F) }] } } } } };
  const mm: NodeDefJson = { name: hName, op: 'MatMul', input: [down.input, `${hName}/weight`], attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } } };
  state.weights.set(`${hName}/weight`, { dtype: 'float32', shape: [F, F], data: Float32Array.from(h) });
  const nodes = state.graph.node;
  const at = nodes.findIndex((n) => n.name === b.down);
  nodes.splice(at, 0, constNode, mm);
  const dn = nodes.find((n) => n.name === b.down)!;
  dn.input![0] = hName;
  down.input = hName;
  const g = b.groups.find((x) => x.name === 'mlp-out');
  if (g) { g.input = hName; g.fold = { kind: 'insert', tensor: hName }; }
  analysis.linears.set(hName, { node: hName, op: 'MatMul', input: mm.input![0], weightConst: `${hName}/weight`, weightKN: true, K: F, N: F, label: `${down.label}.hadamard` });
}
