/** Stage emit: the converted graph model, its shards, the sidecars as read, quantization.json and report.html. */
import { SIDECAR_FILES, type LoadedModel } from '../io/load.js';
import { ConversionError } from '../io/errors.js';
import type { AtomicOutputDir } from '../io/atomic.js';
import type { GraphAnalysis } from '../graph/analysis.js';
import type { ModelState } from '../graph/fold.js';
import type { QuantizedLinear } from '../emit/quantize.js';
import { convertedGraph, serialiseGraphModel } from '../emit/graph_model.js';
import type { QuantizationJson } from '../emit/quantization_json.js';
import { renderReport } from '../emit/report.js';
import type { ResolvedOptions } from '../options.js';
import type { Progress } from './progress.js';

export async function emitStage(out: AtomicOutputDir, a: {
  opts: ResolvedOptions; model: LoadedModel; analysis: GraphAnalysis; state: ModelState; groupSize: number;
  quantized: ReadonlyMap<string, QuantizedLinear>; quantization: QuantizationJson;
}, progress: Progress): Promise<void> {
  const { opts, model } = a;
  progress('emit', 0, 1);
  const conv = convertedGraph(a.state.graph, a.state.weights, a.analysis.linears, a.quantized, opts.emit);
  const { modelJson, shards, paths } = serialiseGraphModel(conv.graph, conv.weights, {
    generatedBy: model.modelJson.generatedBy ?? 'unknown',
    userDefinedMetadata: { ...(model.modelJson.userDefinedMetadata ?? {}), mbq: { method: opts.method, wBits: opts.wBits, aBits: opts.aBits ?? null, groupSize: a.groupSize, emit: opts.emit, requiresOps: opts.emit === 'quantized' ? '@tfjs-mbq/ops' : null } },
  });
  if (model.modelJson.signature) modelJson.signature = model.modelJson.signature;
  for (let i = 0; i < shards.length; i++) await out.writeFile(paths[i], shards[i]);
  await out.writeFile('model.json', JSON.stringify(modelJson));
  // The sidecars as loadModelDir read (and checked) them, byte for byte: config.json, tokenizer.json,
  // mbq.json, and a Hugging Face import's tokenizer, chat-template and processor files.
  for (const f of SIDECAR_FILES) {
    if (!model.sidecarBytes.has(f)) throw new ConversionError('MODEL_JSON_READ', `${model.where(f)}: missing`, model.where(f));
  }
  for (const [f, bytes] of model.sidecarBytes) await out.writeFile(f, bytes);
  await out.writeFile('quantization.json', JSON.stringify(a.quantization, null, 2) + '\n');
  await out.writeFile('report.html', renderReport(a.quantization));
  progress('emit', 1, 1);
}
