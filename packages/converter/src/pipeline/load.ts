/** Stage load: the model directory, its graph analysed, the quantization config it allows. */
import { FUSED_OPS } from '@tfjs-mbq/format';
import { loadModelDir, type LoadedModel } from '../io/load.js';
import { ConversionError } from '../io/errors.js';
import { analyseGraph, type GraphAnalysis } from '../graph/analysis.js';
import { findModelIo, type ModelIo } from '../graph/model_io.js';
import { selectLinears } from '../graph/linear_selection.js';
import { weightQuantizer } from '../search/index.js';
import type { QuantConfig } from '../search/types.js';
import { chooseGroupSize, type ResolvedOptions } from '../options.js';
import type { Progress } from './progress.js';

export interface Loaded {
  model: LoadedModel;
  analysis: GraphAnalysis;
  io: ModelIo;
  /** The decoder linears to quantize (--include / --exclude), block by block; the others stay float. */
  selected: string[];
  /** Labels of the decoder linears kept float. */
  keptFloat: string[];
  /** 0 for weight-activation quantization (one scale per output channel). */
  groupSize: number;
  config: QuantConfig;
}

export async function loadStage(opts: ResolvedOptions, progress: Progress): Promise<Loaded> {
  progress('load', 0, 1, opts.modelDir);
  const model = await loadModelDir(opts.modelDir, { importedFrom: opts.importedFrom });
  const modelFile = model.where('model.json');
  const fusedNode = model.modelJson.modelTopology.node.find((n) => FUSED_OPS.includes(n.op));
  if (fusedNode) {
    throw new ConversionError('GRAPH_ANALYSIS', `${modelFile}: node "${fusedNode.name}" is a fused ${fusedNode.op} (written by tfjs-mbq convert, or by import's --fuse); convert the unfused float model instead (a Hugging Face checkpoint itself, or its tfjs-mbq import --no-fuse)`, modelFile);
  }
  const analysis = analyseGraph(model.modelJson.modelTopology, model.weights);
  if (analysis.blocks.length === 0) {
    throw new ConversionError('GRAPH_ANALYSIS', `${modelFile}: no decoder blocks found (expected q/k/v linears reading one norm, an output projection, and a gate/up/down MLP)`, modelFile);
  }
  const already = [...analysis.linears.values()].find((l) => l.quantized);
  if (already) {
    throw new ConversionError('GRAPH_ANALYSIS', `${modelFile}: node "${already.node}" is already an MbqQuantizedMatMul; convert the float model instead`, modelFile);
  }
  const io = findModelIo(model.modelJson.modelTopology, modelFile);
  const name = (id: string): { node: string; label: string } => ({ node: id, label: analysis.linears.get(id)!.label });
  const selected = selectLinears(blockLinears(analysis).map(name), analysis.otherLinears.map(name), opts.include, opts.exclude).quantize;
  const groupSize = chooseGroupSize(opts.groupSize, selected.map((id) => ({ label: analysis.linears.get(id)!.label, K: analysis.linears.get(id)!.K })), opts.aBits !== undefined);
  const config: QuantConfig = {
    method: opts.method, wBits: opts.wBits, groupSize: groupSize || 1, aBits: opts.aBits, loss: opts.loss, distort: opts.distort, gridSize: opts.gridSize,
    scaleFamily: opts.scaleFamily,
  };
  weightQuantizer(config); // validates
  progress('load', 1, 1);
  const keptFloat = blockLinears(analysis).filter((id) => !selected.includes(id)).map((id) => analysis.linears.get(id)!.label);
  return { model, analysis, io, selected, keptFloat, groupSize, config };
}

/** The decoder linears that get quantized, block by block: q, k, v, o, gate, up, down. */
export function blockLinears(analysis: GraphAnalysis): string[] {
  return analysis.blocks.flatMap((b) => [b.q, b.k, b.v, b.o, b.gate, b.up, b.down]);
}
