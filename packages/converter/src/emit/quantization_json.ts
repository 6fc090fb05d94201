/** quantization.json: what was done to the model, number for number (no times: output is deterministic). */
import type { GraphAnalysis } from '../graph/analysis.js';
import type { LoadedModel } from '../io/load.js';
import type { CalibSet } from '../calib/load.js';
import type { ScaleGroupName, ScaleSearchLossKind } from '../search/types.js';
import type { SensitivityResult } from '../sensitivity/index.js';
import type { ResolvedOptions } from '../options.js';
import type { RotationRecord } from '../rotate/apply.js';
import type { QuantizedLinear } from './quantize.js';

export interface GroupRecord {
  block: number;
  group: ScaleGroupName;
  linears: string[];
  fold: string;
  ratio: number;
  alpha: number;
  lossBefore: number;
  lossAfter: number;
  lossKind: ScaleSearchLossKind | null;
  /** Mean squared output error [vision, caption] at s = 1 and at the chosen scale (diagnostics). */
  modalityMse: { before: [number, number]; after: [number, number] } | null;
  lossCurve: number[];
  scales: number[];
}

export interface EvaluationRecord {
  samples: number;
  tokens: number;
  captionLossFloat: number;
  captionLossQuantized: number;
  /** Fraction of caption positions where the quantized model's top-1 token equals the float model's. */
  top1AgreementCaption: number;
  foldRelativeError: number;
}

export interface QuantizationJson {
  format: 'tfjs-mbq-quantization';
  version: 1;
  /** The input model directory as given, or the Hugging Face checkpoint it was imported from (tfjs-mbq bench uses it as the default baseline when it holds a model.json). */
  source: string;
  method: string;
  wBits: number;
  aBits: number | null;
  groupSize: number | null;
  loss: string;
  /** Candidate scales of the awq/mbq search: awq (mean|X|^alpha) or smoothquant (max|X|^alpha / max|W|^(1-alpha)). */
  scaleFamily: string;
  distort: boolean;
  rotate: boolean;
  gridSize: number;
  seed: number;
  emit: string;
  calibration: { samples: number; available: number; images: string[] };
  blocks: number;
  sensitivity: null | {
    medianAttn: number;
    medianMlp: number;
    blocks: Array<{ block: number; attn: { gVis: number; gTxt: number; ratio: number; clamped: number }; mlp: { gVis: number; gTxt: number; ratio: number; clamped: number } }>;
  };
  rotation: RotationRecord | null;
  groups: GroupRecord[];
  linears: Array<{ node: string; label: string; block: number; K: number; N: number; bits: number; groupSize: number; actBits: number }>;
  /** Decoder-block linears kept float by --include/--exclude (labels); absent in older files. */
  keptFloat?: string[];
  /** Weight bytes of the input model (its model.json manifest) and of the output shards; absent in older files. */
  size?: { inputWeightBytes: number; outputWeightBytes: number };
  evaluation: EvaluationRecord;
}

export function buildQuantizationJson(a: {
  opts: ResolvedOptions; groupSize: number; model: LoadedModel; analysis: GraphAnalysis; calib: CalibSet;
  records: GroupRecord[]; sensitivity: SensitivityResult | null; rotation: RotationRecord | null;
  quantized: ReadonlyMap<string, QuantizedLinear>; evaluation: EvaluationRecord;
  keptFloat: string[]; size: { inputWeightBytes: number; outputWeightBytes: number };
}): QuantizationJson {
  const blockOf = new Map<string, number>();
  for (const b of a.analysis.blocks) for (const id of [b.q, b.k, b.v, b.o, b.gate, b.up, b.down]) blockOf.set(id, b.index);
  return {
    format: 'tfjs-mbq-quantization',
    version: 1,
    source: a.opts.importedFrom ?? a.opts.modelDir,
    method: a.opts.method,
    wBits: a.opts.wBits,
    aBits: a.opts.aBits ?? null,
    groupSize: a.opts.aBits !== undefined ? null : a.groupSize,
    loss: a.opts.loss,
    scaleFamily: a.opts.scaleFamily,
    distort: a.opts.distort,
    rotate: a.opts.rotate,
    gridSize: a.opts.gridSize,
    seed: a.opts.seed,
    emit: a.opts.emit,
    calibration: { samples: a.calib.samples.length, available: a.calib.available, images: a.calib.samples.map((s) => s.image) },
    blocks: a.analysis.blocks.length,
    sensitivity: a.sensitivity && {
      medianAttn: a.sensitivity.medianAttn,
      medianMlp: a.sensitivity.medianMlp,
      blocks: a.sensitivity.blocks.map((b) => ({ block: b.block, attn: { ...b.attn }, mlp: { ...b.mlp } })),
    },
    rotation: a.rotation,
    groups: a.records,
    linears: [...a.quantized.values()].map((q) => ({
      node: q.node, label: a.analysis.linears.get(q.node)!.label, block: blockOf.get(q.node) ?? -1,
      K: q.K, N: q.N, bits: q.bits, groupSize: q.groupSize, actBits: q.actBits,
    })),
    keptFloat: a.keptFloat.map((id) => a.analysis.linears.get(id)!.label),
    size: a.size,
    evaluation: a.evaluation,
  };
}
