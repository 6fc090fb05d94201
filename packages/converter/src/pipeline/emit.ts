/**
 * Stage emit: the converted graph model (fused decoder ops unless --no-fuse) in shards,
 * the sidecars as read, quantization.json and report.html. Returns quantization.json.
 */
import { storedByteLength } from '@tfjs-mbq/format';
import { SIDECAR_FILES } from '../io/load.js';
import { ConversionError } from '../io/errors.js';
import type { AtomicOutputDir } from '../io/atomic.js';
import { convertedGraph, serialiseGraphModel } from '../emit/graph_model.js';
import { dequantizedArray } from '../emit/quantize.js';
import { fuseDecoderOps, signatureNodes } from '../emit/fuse.js';
import { buildQuantizationJson, type QuantizationJson } from '../emit/quantization_json.js';
import { renderReport } from '../emit/report.js';
import type { ModelState } from '../graph/fold.js';
import { blockLinears } from './load.js';
import type { Progress } from './progress.js';


/** What quantization.json records, less what emit measures itself (kept-float linears, weight bytes). */
type QuantizationInputs = Omit<Parameters<typeof buildQuantizationJson>[0], 'keptFloat' | 'size'>;

export async function emitStage(
  out: AtomicOutputDir, a: QuantizationInputs & { state: ModelState; selected: readonly string[] }, progress: Progress,
): Promise<QuantizationJson> {
  const { opts, model, analysis, state, quantized, groupSize } = a;
  progress('emit', 0, 1);
  // A float graph carries the dequantized weights (made here, all at once: the float output's size).
  const dequantized = new Map<string, Float32Array>();
  if (opts.emit === 'float') for (const [id, q] of quantized) dequantized.set(id, await dequantizedArray(q));
  const unfused = convertedGraph(state.graph, state.weights, analysis.linears, quantized, opts.emit, dequantized);
  // The written graph only: the conversion above ran (and took gradients) on the plain ops.
  const conv = opts.fuse ? fuseDecoderOps(unfused.graph, unfused.weights, signatureNodes(model.modelJson.signature)) : unfused;
  const needsOps = opts.emit === 'quantized' || conv.graph.node !== unfused.graph.node;
  const { modelJson, shards, paths, totalBytes } = serialiseGraphModel(conv.graph, conv.weights, {
    generatedBy: model.modelJson.generatedBy ?? 'unknown',
    userDefinedMetadata: { ...(model.modelJson.userDefinedMetadata ?? {}), mbq: { method: opts.method, wBits: opts.wBits, aBits: opts.aBits ?? null, groupSize, emit: opts.emit, fuse: opts.fuse, requiresOps: needsOps ? '@tfjs-mbq/ops' : null } },
  }, opts.weightShardSizeBytes);
  const selected = new Set(a.selected);
  const quantization = buildQuantizationJson({
    ...a,
    keptFloat: blockLinears(analysis).filter((id) => !selected.has(id)),
    size: {
      inputWeightBytes: model.modelJson.weightsManifest.flatMap((g) => g.weights).reduce((n, w) => n + storedByteLength(w), 0),
      outputWeightBytes: totalBytes,
    },
  });
  if (model.modelJson.signature) modelJson.signature = model.modelJson.signature;
  let shard = 0;
  for (const bytes of shards) await out.writeFile(paths[shard++], bytes); // made one at a time
  await out.writeFile('model.json', JSON.stringify(modelJson));
  // The sidecars as loadModelDir read (and checked) them, byte for byte: config.json, tokenizer.json,
  // mbq.json, and a Hugging Face import's tokenizer, chat-template and processor files.
  for (const f of SIDECAR_FILES) {
    if (!model.sidecarBytes.has(f)) throw new ConversionError('MODEL_JSON_READ', `${model.where(f)}: missing`, model.where(f));
  }
  for (const [f, bytes] of model.sidecarBytes) await out.writeFile(f, bytes);
  await out.writeFile('quantization.json', JSON.stringify(quantization, null, 2) + '\n');
  await out.writeFile('report.html', renderReport(quantization));
  progress('emit', 1, 1);
  return quantization;
}
