/**
 * The conversion pipeline: load -> analyse -> (rotate) -> sensitivity -> block-by-block scale search
 * on cached inputs -> fold scales -> quantize -> emit (docs/algorithm.md §3-§6). Stages hand plain data
 * to each other; tensors live only inside a stage. Same inputs + seed -> byte-identical output.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { loadModelDir, SIDECAR_FILES, type LoadedModel } from './io/load.js';
import { copyWeights, LazyWeightMap } from './io/lazy_weights.js';
import { ConversionError } from './io/errors.js';
import { AtomicOutputDir, checkOutputDir, checkOutputPath, guardSignals } from './io/atomic.js';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { analyseGraph, type GraphAnalysis, type BlockInfo, type LinearInfo } from './graph/analysis.js';
import { GraphExecutor, type NodeOverride } from './graph/executor.js';
import { applyGroupScale, cloneGraph, linearWeightNK, type ModelState } from './graph/fold.js';
import { calibInputs } from './calib/inputs.js';
import { loadCalibration, type CalibSet } from './calib/load.js';
import { makeBatch, batchFeeds, gatherValid, type CalibBatch } from './calib/batch.js';
import { searchGroupScale, quantizeWeight, weightQuantizer } from './search/index.js';
import { quantizeActivationPerToken, quantizedMatMul } from '@tfjs-mbq/ops';
import type { LinearOverride, QuantConfig, ScaleGroup, ScaleSearchResult } from './search/types.js';
import type { SensitivityResult } from './sensitivity/index.js';
import { dequantizedArray, dequantizedTensor, quantizeAsymGroup, quantizeSymChannel, type QuantizedLinear } from './emit/quantize.js';
import { convertedGraph, serialiseGraphModel } from './emit/graph_model.js';
import { fuseDecoderOps } from './emit/fuse.js';
import { FUSED_OPS } from '@tfjs-mbq/format';
import { buildQuantizationJson, type QuantizationJson, type GroupRecord } from './emit/quantization_json.js';
import { renderReport } from './emit/report.js';
import { batchedSensitivity } from './sensitivity/batched.js';
import { findModelIo, type ModelIo } from './graph/model_io.js';
import { resolveOptions, chooseGroupSize, type ConvertOptions, type ResolvedOptions, type Stage } from './options.js';
import { applyRotation, type RotationRecord } from './rotate/apply.js';
import { WorkDir, sha256, type WorkInputs } from './io/work_dir.js';
import { selectLinears } from './graph/linear_selection.js';
import { storedByteLength } from '@tfjs-mbq/format';

export type { ConvertOptions, ProgressEvent, Stage } from './options.js';

export interface ConvertResult {
  outDir: string;
  /** The tfjs backend the conversion ran on. */
  backend: string;
  quantization: QuantizationJson;
  /** Wall time per stage, ms (not written to disk: output stays deterministic). */
  timings: Partial<Record<Stage, number>>;
  /**
   * The model's weights in JavaScript memory (issue 12 §4): they are read a tensor at a time from
   * the shards; folded weights are held until their block is done, then spilled to scratch.
   * peakResidentBytes: the most folded-weight bytes held at once; diskReads: tensors read.
   */
  weights: { peakResidentBytes: number; diskReads: number };
  /** With keepModel: the folded float model, the quantized linears and the graph io. */
  model?: { state: ModelState; analysis: GraphAnalysis; quantized: Map<string, QuantizedLinear>; io: ModelIo };
}

/**
 * Node overrides that run each quantized linear as the converter evaluates it: weight-only linears
 * with their dequantized float weight [N, K] (made from the packed codes per call); weight-activation linears through the packed kernel
 * itself (per-token activation rounding is discontinuous, so only the same arithmetic reproduces it).
 */
export function quantizedOverrides(analysis: GraphAnalysis, quantized: ReadonlyMap<string, QuantizedLinear>): Map<string, NodeOverride> {
  // Weight tensors are made per call and freed with its scope (issue 6 §5: a pass must not hold
  // every block's weights; on cpu a tensor over a Float32Array does not copy it).
  const out = new Map<string, NodeOverride>();
  for (const [node, q] of quantized) {
    const l = analysis.linears.get(node)!;
    out.set(node, (inputs) => tf.tidy(() => {
      if (q.actBits) {
        const p = tf.tensor2d(q.packed, [q.N, q.packed.length / q.N], 'int32');
        const sc = tf.tensor2d(q.scales, [q.N, q.K / q.groupSize]);
        const z = tf.tensor2d(q.zeros, [q.N, q.K / q.groupSize]);
        let y = quantizedMatMul(inputs[0], p, sc, z, { bits: q.bits, groupSize: q.groupSize, inFeatures: q.K, actBits: q.actBits as 0 | 8 });
        if (l.biasConst) y = tf.add(y, inputs[2]);
        return y;
      }
      return linearApply(l, inputs, { weight: dequantizedTensor(q) });
    }));
  }
  return out;
}

/** y = x·Wᵀ for an override weight [N, K], keeping x's leading dims; adds a fused bias. */
function linearApply(l: LinearInfo, inputs: tf.Tensor[], ov: LinearOverride): tf.Tensor {
  return tf.tidy(() => {
    const x = inputs[0];
    const lead = x.shape.slice(0, -1);
    // Same computation as search's applyLinearOverride, but with Wᵀ materialised: wasm's matmul
    // with a transposed operand is an order of magnitude slower.
    let x2: tf.Tensor2D = tf.reshape(x, [-1, l.K]);
    if (ov.inputScale) x2 = tf.div(x2, ov.inputScale);
    if (ov.actBits !== undefined) x2 = quantizeActivationPerToken(x2, { bits: ov.actBits }) as tf.Tensor2D;
    let y: tf.Tensor = tf.matMul(x2, tf.transpose(ov.weight));
    y = tf.reshape(y, [...lead, l.N]);
    if (l.biasConst) y = tf.add(y, inputs[2]);
    return y;
  });
}

function overridesFor(analysis: GraphAnalysis, ovs: ReadonlyMap<string, LinearOverride>): Map<string, NodeOverride> {
  const m = new Map<string, NodeOverride>();
  for (const [id, ov] of ovs) {
    const l = analysis.linears.get(id)!;
    m.set(id, (inputs) => linearApply(l, inputs, ov));
  }
  return m;
}

class Clock {
  readonly timings: Partial<Record<Stage, number>> = {};
  private t = Date.now();
  lap(stage: Stage): void {
    const now = Date.now();
    this.timings[stage] = (this.timings[stage] ?? 0) + (now - this.t);
    this.t = now;
  }
}

/** Mean caption cross-entropy over all samples (token-weighted) of a logits batch [B, S, V]. */
async function captionLoss(logits: tf.Tensor, batch: CalibBatch): Promise<number> {
  return readScalar(tf.tidy(() => {
    const V = logits.shape[2]!;
    const rows: number[] = [];
    const targets: number[] = [];
    let t = 0;
    batch.lengths.forEach((len, b) => {
      for (let p = 0; p < len; p++, t++) {
        // A caption token at p is predicted by the logits at p - 1.
        if (batch.captionMask[t] && p > 0) {
          rows.push(b * batch.seqLen + p - 1);
          targets.push(batch.inputIds[b * batch.seqLen + p]);
        }
      }
    });
    const l = tf.gather(tf.reshape(logits, [-1, V]), tf.tensor1d(rows, 'int32'));
    const logp = tf.logSoftmax(l);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), V)), 1);
    return tf.neg(tf.mean(picked));
  }));
}

/** Reads a scalar from the device (asynchronously: tfjs-webgpu cannot read synchronously in Node) and frees it. */
async function readScalar(t: tf.Tensor): Promise<number> {
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
}

/**
 * Everything that can be refused without loading anything: the options and their combinations,
 * the output path (not in the input) and directory (empty or new, or `overwrite`). convert()
 * runs it first; the CLI runs it before it starts a backend.
 */
export async function checkConvertOptions(options: ConvertOptions): Promise<ResolvedOptions> {
  const opts = resolveOptions(options);
  checkOutputPath(opts.modelDir, opts.outDir);
  await checkOutputDir(opts.outDir, { overwrite: opts.overwrite, fs: opts.outputFs });
  if (opts.workDir) checkWorkDir(opts.workDir, opts.modelDir, opts.outDir);
  return opts;
}

export async function convert(options: ConvertOptions): Promise<ConvertResult> {
  const opts = await checkConvertOptions(options);
  // With handleSignals, SIGINT/SIGTERM at any stage remove the partial output and say so.
  const releaseSignals = opts.handleSignals ? guardSignals(opts.outDir) : undefined;
  try {
    return await convertResolved(opts);
  } finally {
    releaseSignals?.();
  }
}

async function convertResolved(opts: ResolvedOptions): Promise<ConvertResult> {
  const clock = new Clock();
  const progress = (stage: Stage, done: number, total: number, detail?: string): void => opts.onProgress?.({ stage, done, total, detail });
  // A library must not switch the backend an app chose: without `backend`, an app's stays.
  const backend = opts.backend ?? (tf.engine().backendName ? 'current' : 'auto');
  if (backend !== 'current') await initBackend(backend);
  progress('load', 0, 1, opts.modelDir);
  const model = await loadModelDir(opts.modelDir, { importedFrom: opts.importedFrom });
  const modelFile = model.where('model.json');
  const fusedNode = model.modelJson.modelTopology.node.find((n) => FUSED_OPS.includes(n.op));
  if (fusedNode) {
    throw new ConversionError('GRAPH_ANALYSIS', `${modelFile}: node "${fusedNode.name}" is a fused ${fusedNode.op} written by tfjs-mbq convert; convert the float model it came from instead`, modelFile);
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
  const blockIds = analysis.blocks.flatMap((b) => [b.q, b.k, b.v, b.o, b.gate, b.up, b.down]);
  const selection = selectLinears(blockIds.map(name), analysis.otherLinears.map(name), opts.include, opts.exclude);
  const blockLinears = selection.quantize;
  const groupSize = chooseGroupSize(opts.groupSize, blockLinears.map((id) => ({ label: analysis.linears.get(id)!.label, K: analysis.linears.get(id)!.K })), opts.aBits !== undefined);
  const config: QuantConfig = {
    method: opts.method, wBits: opts.wBits, groupSize: groupSize || 1, aBits: opts.aBits, loss: opts.loss, distort: opts.distort, gridSize: opts.gridSize,
    scaleFamily: opts.scaleFamily,
  };
  weightQuantizer(config); // validates
  progress('load', 1, 1);
  clock.lap('load');

  progress('calibrate', 0, 1, opts.calibDir);
  const padId = padTokenId(model);
  const calib = await loadCalibration(opts.calibDir, calibInputs(model), { samples: opts.samples, seed: opts.seed });
  const batch = makeBatch(calib.samples, model.mbq.imageSize, padId);
  progress('calibrate', 1, 1, `${calib.samples.length} of ${calib.available} samples`);
  clock.lap('calibrate');

  const keptFloat = blockIds.filter((id) => !selection.quantize.includes(id)).map((id) => analysis.linears.get(id)!.label);
  const work = opts.workDir ? await WorkDir.open(opts.workDir, await workInputs(opts, config, model, batch, keptFloat)) : undefined;
  const out = await AtomicOutputDir.create(opts.outDir, { fs: opts.outputFs, overwrite: opts.overwrite });
  try {
    const state: ModelState = { graph: cloneGraph(model.modelJson.modelTopology), weights: copyWeights(model.weights) };
    try {
      const result = await runPipeline(opts, config, groupSize, model, analysis, io, state, calib, batch, clock, progress, out, work, selection.quantize);
      await out.commit();
      return result;
    } finally {
      // Folded weights spilled to scratch go with it (keepModel hands them over: they stay in memory).
      if (!opts.keepModel && state.weights instanceof LazyWeightMap) state.weights.dispose();
    }
  } catch (e) {
    await out.abort();
    throw e;
  }
}

/** The work directory outlives the output and never touches the input: it must be inside neither. */
function checkWorkDir(workDir: string, modelDir: string, outDir: string): void {
  for (const [what, dir] of [['input', modelDir], ['output', outDir]] as const) {
    const rel = path.relative(path.resolve(dir), path.resolve(workDir));
    if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
      throw new ConversionError('OPTION', `--work-dir ${workDir} is inside the ${what} directory ${dir}; choose a path outside it`, workDir);
    }
  }
}

/** Everything the saved search results of a work directory depend on. */
async function workInputs(opts: ResolvedOptions, config: QuantConfig, model: LoadedModel, batch: CalibBatch, keptFloat: string[]): Promise<WorkInputs> {
  const modelFile = path.join(model.dir, 'model.json');
  const shards = [];
  for (const p of model.modelJson.weightsManifest.flatMap((g) => g.paths)) {
    const st = await fs.stat(path.join(model.dir, p));
    shards.push({ path: p, bytes: st.size, mtimeMs: st.mtimeMs });
  }
  return {
    backend: tf.getBackend(),
    options: {
      method: config.method, wBits: config.wBits, aBits: config.aBits ?? null, groupSize: config.groupSize, loss: config.loss,
      scaleFamily: config.scaleFamily ?? 'awq', distort: config.distort, rotate: opts.rotate, gridSize: config.gridSize,
      samples: batch.batch, seed: opts.seed,
      // Groups kept float are not searched: a run with other --include/--exclude has other results (absent when none, as before).
      ...(keptFloat.length ? { keptFloat } : {}),
    },
    model: { modelJsonSha256: sha256(await fs.readFile(modelFile)), shards },
    calibrationSha256: sha256(batch.inputIds, batch.pixels, batch.visionMask, batch.captionMask),
  };
}

function padTokenId(model: LoadedModel): number {
  return typeof model.mbq.padTokenId === 'number' ? model.mbq.padTokenId : model.mbq.eosTokenId;
}

async function runPipeline(
  opts: ResolvedOptions, config: QuantConfig, groupSize: number, model: LoadedModel, analysis: GraphAnalysis, io: ModelIo,
  state: ModelState, calib: CalibSet, batch: CalibBatch, clock: Clock,
  progress: (stage: Stage, done: number, total: number, detail?: string) => void, out: AtomicOutputDir, work: WorkDir | undefined,
  selected: readonly string[],
): Promise<ConvertResult> {
  const isSelected = new Set(selected);
  let exec = new GraphExecutor(state.graph, state.weights);
  const padId = padTokenId(model);
  const feeds = batchFeeds(batch);
  const validRows = tf.tensor1d(batch.validRows, 'int32');
  const first = analysis.blocks[0];
  const sideNames = [...new Set(analysis.blocks.flatMap((b) => b.sideInputs))];
  // Every long-lived tensor of the stages below, so that an exception anywhere still frees it
  // (disposing an already disposed tensor is a no-op).
  const held: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => { held.push(t); return t; };
  try {
    // Float logits before anything changes: the reference for the fold check and the evaluation.
    // Full-model passes stream the weights (one block's at a time as tensors), issue 6 §5.
    const floatLogits = keep(exec.execute(feeds, [io.logits], { streamConsts: true })[0]);
    const floatLoss = await captionLoss(floatLogits, batch);

    let rotation: RotationRecord | null = null;
    if (opts.rotate) {
      progress('rotate', 0, 1);
      rotation = await applyRotation(state, analysis, opts.seed);
      exec = new GraphExecutor(state.graph, state.weights);
      const rotated = exec.execute(feeds, [io.logits], { streamConsts: true })[0];
      const err = await relativeError(rotated, floatLogits);
      rotated.dispose();
      if (err > 1e-4) throw new ConversionError('GRAPH_ANALYSIS', `rotation changed the float model's logits by ${err.toExponential(2)} (relative); refusing to continue`);
      rotation.logitsRelativeError = err;
      progress('rotate', 1, 1);
      clock.lap('rotate');
    }

    // Sensitivity (docs/algorithm.md §3): only MBQ weights its loss by modality.
    let sensitivity: SensitivityResult | null = null;
    if (opts.method === 'mbq') {
      progress('sensitivity', 0, calib.samples.length);
      sensitivity = await work?.sensitivity() ?? null;
      if (sensitivity) {
        progress('sensitivity', calib.samples.length, calib.samples.length, 'from the work directory');
      } else {
        sensitivity = await batchedSensitivity(exec, analysis, io, calib.samples, calib.imageSize, padId, 16, (d, t) => progress('sensitivity', d, t));
        await work?.saveSensitivity(sensitivity);
      }
      clock.lap('sensitivity');
    }

    // Block-by-block search on cached inputs.
    // The gradient tape cached every weight as a tensor; the search below loads one block at a time.
    exec.releaseConsts();
    const pre = exec.execute(feeds, [first.input, ...sideNames], { streamConsts: true }).map(keep);
    let x = pre[0];
    const side = new Map<string, tf.Tensor>(sideNames.map((n, i) => [n, pre[i + 1]]));
    const visionMask = keep(tf.tensor1d(batch.visionMask));
    const captionMask = keep(tf.tensor1d(batch.captionMask));
    const records: GroupRecord[] = [];
    const quantizer = weightQuantizer(config);
    const totalGroups = analysis.blocks.reduce((a, b) => a + b.groups.length, 0);
    let doneGroups = 0;
    progress('search', 0, totalGroups);
    for (const block of analysis.blocks) {
      // A block finished by an earlier run of this work directory: its saved scales are applied
      // exactly as a search would have applied them, without searching.
      const saved = await work?.block(block.index);
      const blockFeeds = new Map<string, tf.Tensor>([[block.input, x], ...side]);
      const outputs = saved ? [] : [...new Set(block.groups.flatMap((g) => [g.input, g.outputLinear]))];
      const cached = exec.execute(blockFeeds, [block.output, ...outputs]).map(keep);
      const floatOut = cached[0];
      const at = new Map(outputs.map((n, i) => [n, cached[i + 1]]));
      const blockRecords: GroupRecord[] = [];
      const folded: string[] = [];
      for (const [g, group] of block.groups.entries()) {
        let record: GroupRecord;
        const keptFloat = group.linears.every((id) => !isSelected.has(id));
        if (saved) {
          record = saved[g];
          if (record?.block !== block.index || record.group !== group.name || record.scales.length !== analysis.linears.get(group.linears[0])!.K) {
            throw new ConversionError('OPTION', `--work-dir ${opts.workDir}: the saved results of block ${block.index} do not match this model's group ${group.name}; use a new work directory`);
          }
        } else if (keptFloat) {
          // --include/--exclude keep every linear of the group float: there is nothing to search for (s = 1).
          const K = analysis.linears.get(group.linears[0])!.K;
          record = groupRecord(block, group.name, group.linears.map((id) => analysis.linears.get(id)!.label), group.fold.kind, 1,
            { group: group.name, scales: new Float32Array(K).fill(1), alpha: 0, lossBefore: 0, lossAfter: 0, lossCurve: [] });
        } else {
          const ratio = sensitivity ? (group.name.startsWith('attn') ? sensitivity.clampedAttn : sensitivity.clampedMlp)[block.index] : 1;
          const res = await searchOnCache(exec, analysis, state, group, at, side, validRows, { visionMask, captionMask, ratio }, config);
          record = groupRecord(block, group.name, group.linears.map((id) => analysis.linears.get(id)!.label), group.fold.kind, ratio, res);
        }
        if (!keptFloat) {
          const changed = applyGroupScale(state, analysis, group, Float32Array.from(record.scales));
          folded.push(...changed);
          exec.invalidate(changed);
          if (group.fold.kind === 'insert') exec.refresh();
        }
        blockRecords.push(record);
        progress('search', ++doneGroups, totalGroups, `block ${block.index} ${group.name}${saved ? ' (from the work directory)' : ''}`);
        await new Promise((r) => setImmediate(r)); // let SIGINT/SIGTERM handlers run
      }
      if (!saved) await work?.saveBlock(block.index, blockRecords);
      records.push(...blockRecords);
      tf.dispose([...at.values()]);
      let next = floatOut;
      if (opts.distort) {
        const ovs = new Map<string, LinearOverride>();
        for (const id of [block.q, block.k, block.v, block.o, block.gate, block.up, block.down].filter((i) => isSelected.has(i))) {
          const l = analysis.linears.get(id)!;
          const w = tf.tensor2d(linearWeightNK(state.weights, l), [l.N, l.K]);
          ovs.set(id, { weight: keep(quantizeWeight(w, quantizer, l.label)), actBits: opts.aBits });
          w.dispose();
        }
        next = keep(exec.execute(blockFeeds, [block.output], { nodeOverrides: overridesFor(analysis, ovs) })[0]);
        floatOut.dispose();
        for (const ov of ovs.values()) ov.weight.dispose();
      }
      x.dispose();
      x = next;
      // Memory: this block's weights are not needed again until evaluation. All cached consts go:
      // block.nodes holds no Const nodes (they do not depend on the block input), and the next
      // block makes its own (shared tables are small and made again on demand). Its folded float
      // weights go to scratch on disk (read back for the fold check, quantization and evaluation).
      exec.releaseConsts();
      if (!opts.keepModel && state.weights instanceof LazyWeightMap) state.weights.spill(folded);
    }
    x.dispose();
    tf.dispose([...side.values(), visionMask, captionMask]);
    clock.lap('search');

    // Folding must not change the float model.
    const folded = exec.execute(feeds, [io.logits], { streamConsts: true })[0];
    const foldError = await relativeError(folded, floatLogits);
    folded.dispose();
    if (foldError > 1e-3) {
      throw new ConversionError('GRAPH_ANALYSIS', `folding the channel scales changed the float logits by ${foldError.toExponential(2)} (relative); the graph's structure was not what the analysis assumed`);
    }

    // Final quantization of every selected decoder linear.
    const quantized = new Map<string, QuantizedLinear>();
    const ids = selected;
    for (const [i, id] of ids.entries()) {
      const l = analysis.linears.get(id)!;
      const w = linearWeightNK(state.weights, l);
      quantized.set(id, opts.aBits !== undefined
        ? await quantizeSymChannel(id, w, l.N, l.K, opts.wBits, opts.aBits)
        : await quantizeAsymGroup(id, w, l.N, l.K, opts.wBits, groupSize));
      progress('quantize', i + 1, ids.length);
    }
    clock.lap('quantize');

    progress('evaluate', 0, 1);
    const qLogits = keep(exec.execute(feeds, [io.logits], { nodeOverrides: quantizedOverrides(analysis, quantized), streamConsts: true })[0]);
    const quantLoss = await captionLoss(qLogits, batch);
    const agreement = await top1Agreement(qLogits, floatLogits, batch);
    qLogits.dispose();
    floatLogits.dispose();
    progress('evaluate', 1, 1);
    clock.lap('evaluate');

    progress('emit', 0, 1);
    // A float graph carries the dequantized weights (made here, all at once: the float output's size).
    const dequantized = new Map<string, Float32Array>();
    if (opts.emit === 'float') for (const [id, q] of quantized) dequantized.set(id, await dequantizedArray(q));
    const unfused = convertedGraph(state.graph, state.weights, analysis.linears, quantized, opts.emit, dequantized);
    // The written graph only: the conversion above ran (and took gradients) on the plain ops.
    const conv = opts.fuse ? fuseDecoderOps(unfused.graph, unfused.weights) : unfused;
    const needsOps = opts.emit === 'quantized' || conv.graph.node !== unfused.graph.node;
    const { modelJson, shards, paths, totalBytes } = serialiseGraphModel(conv.graph, conv.weights, {
      generatedBy: model.modelJson.generatedBy ?? 'unknown',
      userDefinedMetadata: { ...(model.modelJson.userDefinedMetadata ?? {}), mbq: { method: opts.method, wBits: opts.wBits, aBits: opts.aBits ?? null, groupSize, emit: opts.emit, fuse: opts.fuse, requiresOps: needsOps ? '@tfjs-mbq/ops' : null } },
    }, opts.weightShardSizeBytes);
    const quantization = buildQuantizationJson({
      opts, groupSize, model, analysis, calib, records, sensitivity, rotation, quantized,
      evaluation: { samples: batch.batch, tokens: batch.validRows.length, captionLossFloat: floatLoss, captionLossQuantized: quantLoss, top1AgreementCaption: agreement, foldRelativeError: foldError },
      keptFloat: analysis.blocks.flatMap((b) => [b.q, b.k, b.v, b.o, b.gate, b.up, b.down]).filter((id) => !isSelected.has(id)),
      size: {
        inputWeightBytes: model.modelJson.weightsManifest.flatMap((g) => g.weights).reduce((a, w) => a + storedByteLength(w), 0),
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
    clock.lap('emit');
    const lazy = state.weights instanceof LazyWeightMap ? state.weights : undefined;
    return {
      outDir: out.outDir, backend: tf.getBackend(), quantization, timings: clock.timings,
      weights: { peakResidentBytes: lazy?.peakResidentBytes ?? 0, diskReads: lazy?.diskReads ?? 0 },
      model: opts.keepModel ? { state, analysis, quantized, io } : undefined,
    };
  } finally {
    tf.dispose([feeds.input_ids, feeds.pixel_values, validRows, ...held]);
    exec.dispose();
  }
}

async function searchOnCache(
  exec: GraphExecutor, analysis: GraphAnalysis, state: ModelState, group: BlockInfo['groups'][number],
  at: ReadonlyMap<string, tf.Tensor>, side: ReadonlyMap<string, tf.Tensor>, validRows: tf.Tensor1D,
  weighting: { visionMask: tf.Tensor1D; captionMask: tf.Tensor1D; ratio: number }, config: QuantConfig,
): Promise<ScaleSearchResult> {
  const input3d = at.get(group.input)!;
  const weights = new Map(group.linears.map((id) => {
    const l = analysis.linears.get(id)!;
    return [id, tf.tensor2d(linearWeightNK(state.weights, l), [l.N, l.K])] as [string, tf.Tensor2D];
  }));
  const input = gatherValid(input3d, validRows);
  const reference = gatherValid(at.get(group.outputLinear)!, validRows);
  try {
    const sg: ScaleGroup = {
      name: group.name, linears: group.linears, weights, input, reference,
      forward: (ovs) => tf.tidy(() => {
        const feeds = new Map<string, tf.Tensor>([[group.input, input3d], ...side]);
        const [o] = exec.execute(feeds, [group.outputLinear], { nodeOverrides: overridesFor(analysis, ovs), tidy: false });
        return gatherValid(o, validRows);
      }),
    };
    return await searchGroupScale(sg, weighting, config);
  } finally {
    tf.dispose([...weights.values(), input, reference]);
  }
}

/** max |a - b| / max |b|, both maxima read in one transfer. */
async function relativeError(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const t = tf.tidy(() => tf.stack([tf.max(tf.abs(tf.sub(a, b))), tf.max(tf.abs(b))]));
  try {
    const [num, den] = await t.data();
    return num / Math.max(den, 1e-12);
  } finally {
    t.dispose();
  }
}

async function top1Agreement(q: tf.Tensor, f: tf.Tensor, batch: CalibBatch): Promise<number> {
  return readScalar(tf.tidy(() => {
    const V = f.shape[2]!;
    const rows: number[] = [];
    // The prediction of the caption token at row r is made at row r - 1 (same sample: r is not its first row).
    for (let t = 1; t < batch.validRows.length; t++) {
      if (batch.captionMask[t] && batch.validRows[t - 1] === batch.validRows[t] - 1) rows.push(batch.validRows[t] - 1);
    }
    const idx = tf.tensor1d(rows, 'int32');
    const a = tf.argMax(tf.gather(tf.reshape(q, [-1, V]), idx), 1);
    const b = tf.argMax(tf.gather(tf.reshape(f, [-1, V]), idx), 1);
    return tf.mean(tf.cast(tf.equal(a, b), 'float32'));
  }));
}

function groupRecord(block: BlockInfo, name: GroupRecord['group'], labels: string[], fold: string, ratio: number, r: ScaleSearchResult): GroupRecord {
  return {
    block: block.index, group: name, linears: labels, fold, ratio, alpha: r.alpha,
    lossBefore: r.lossBefore, lossAfter: r.lossAfter, lossKind: r.lossKind ?? null,
    modalityMse: r.modalityMse ?? null, lossCurve: r.lossCurve,
    scales: Array.from(r.scales),
  };
}
