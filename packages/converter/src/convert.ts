/**
 * The conversion, top to bottom (docs/algorithm.md §3-§6), as llm-awq's run_awq -> apply_awq:
 *   load -> calibrate -> (rotate) -> sensitivity -> search (or apply a saved search) -> quantize
 *   -> evaluate -> emit
 * Each stage is a function in pipeline/ that takes and returns plain data; the tensors that outlive
 * a stage (the executor, the batch's feeds, the float logits) live in one CalibRun. The search
 * result can be saved (`saveSearch`) and applied to a later conversion without searching
 * (`applySearch`, io/search_file.ts). Same inputs + seed -> byte-identical output.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { configVocabSize } from '@tfjs-mbq/format';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { ConversionError } from './io/errors.js';
import { AtomicOutputDir, checkOutputDir, checkOutputPath, guardSignals } from './io/atomic.js';
import { WorkDir } from './io/work_dir.js';
import { checkSearchFileTarget, readSearchFile, writeSearchFile, SEARCH_FILE_FORMAT, SEARCH_FILE_VERSION, type SearchFile } from './io/search_file.js';
import { copyWeights, LazyWeightMap } from './io/lazy_weights.js';
import { cloneGraph, type ModelState } from './graph/fold.js';
import type { GraphAnalysis } from './graph/analysis.js';
import type { ModelIo } from './graph/model_io.js';
import type { QuantizedLinear } from './emit/quantize.js';
import type { QuantizationJson } from './emit/quantization_json.js';
import { resolveOptions, type ConvertOptions, type ResolvedOptions, type Stage } from './options.js';
import { Clock, type Progress } from './pipeline/progress.js';
import { loadStage, type Loaded } from './pipeline/load.js';
import { calibrateStage, padTokenId, type Calibrated } from './pipeline/calibrate.js';
import { searchInputs, workInputs } from './pipeline/inputs.js';
import { CalibRun } from './pipeline/calib_run.js';
import { rotateStage } from './pipeline/rotate.js';
import { sensitivityStage } from './pipeline/sensitivity.js';
import { searchStage } from './pipeline/search.js';
import { applySearchStage } from './pipeline/apply_search.js';
import { quantizeStage } from './pipeline/quantize.js';
import { checkFold, evaluateStage } from './pipeline/evaluate.js';
import { emitStage } from './pipeline/emit.js';

export type { ConvertOptions, ProgressEvent, Stage } from './options.js';
export { quantizedOverrides } from './pipeline/overrides.js';

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
 * Everything that can be refused without loading anything: the options and their combinations,
 * the output path (not in the input) and directory (empty or new, or `overwrite`). convert()
 * runs it first; the CLI runs it before it starts a backend.
 */
export async function checkConvertOptions(options: ConvertOptions): Promise<ResolvedOptions> {
  const opts = resolveOptions(options);
  checkOutputPath(opts.modelDir, opts.outDir);
  await checkOutputDir(opts.outDir, { overwrite: opts.overwrite, fs: opts.outputFs });
  if (opts.workDir) checkOutside('--work-dir', opts.workDir, opts.modelDir, opts.outDir);
  if (opts.saveSearch) {
    checkOutside('--save-search', opts.saveSearch, opts.modelDir, opts.outDir);
    await checkSearchFileTarget(opts.saveSearch);
  }
  return opts;
}

export async function convert(options: ConvertOptions): Promise<ConvertResult> {
  const opts = await checkConvertOptions(options);
  // With handleSignals, SIGINT/SIGTERM/SIGHUP at any stage remove the partial output and say so.
  const releaseSignals = opts.handleSignals ? guardSignals(opts.outDir) : undefined;
  try {
    return await convertResolved(opts);
  } finally {
    releaseSignals?.();
  }
}

async function convertResolved(opts: ResolvedOptions): Promise<ConvertResult> {
  const clock = new Clock();
  const progress: Progress = (stage, done, total, detail) => opts.onProgress?.({ stage, done, total, detail });
  // A library must not switch the backend an app chose: without `backend`, an app's stays.
  const backend = opts.backend ?? (tf.engine().backendName ? 'current' : 'auto');
  if (backend !== 'current') await initBackend(backend);

  const loaded = await loadStage(opts, progress);
  clock.lap('load');
  const calibrated = await calibrateStage(opts, loaded.model, progress);
  clock.lap('calibrate');

  // Everything that can refuse the inputs does so before the output directory exists.
  const applied = opts.applySearch
    ? await readSearchFile(opts.applySearch, await searchInputs(opts, loaded.config, loaded.model, calibrated.batch, loaded.keptFloat), loaded.analysis, opts.method)
    : undefined;
  const work = opts.workDir ? await WorkDir.open(opts.workDir, await workInputs(opts, loaded.config, loaded.model, calibrated.batch, loaded.keptFloat)) : undefined;
  const out = await AtomicOutputDir.create(opts.outDir, { fs: opts.outputFs, overwrite: opts.overwrite });
  try {
    const result = await runStages(opts, loaded, calibrated, { applied, work, out, clock, progress });
    await out.commit();
    return result;
  } catch (e) {
    await out.abort();
    throw e;
  }
}

async function runStages(
  opts: ResolvedOptions, { model, analysis, io, selected, keptFloat, groupSize, config }: Loaded, { calib, batch }: Calibrated,
  s: { applied?: SearchFile; work?: WorkDir; out: AtomicOutputDir; clock: Clock; progress: Progress },
): Promise<ConvertResult> {
  const { clock, progress } = s;
  const state: ModelState = { graph: cloneGraph(model.modelJson.modelTopology), weights: copyWeights(model.weights) };
  const lazy = state.weights instanceof LazyWeightMap ? state.weights : undefined;
  // A finished block's folded weights go to scratch (keepModel hands them over: they stay in memory).
  const blockDone = (folded: string[]): void => { if (!opts.keepModel) lazy?.spill(folded); };
  const run = new CalibRun(state, batch, io, configVocabSize(model.config), opts.memoryLimits);
  try {
    // Float logits before anything changes: the reference for the rotation and fold checks and the evaluation.
    const captionLossFloat = await run.floatReference();

    const rotation = opts.rotate ? await rotateStage(run, analysis, opts.seed, progress) : null;
    if (opts.rotate) clock.lap('rotate');

    let sensitivity = s.applied?.sensitivity ?? null;
    let records = s.applied?.groups;
    if (records) {
      applySearchStage(run, analysis, opts.applySearch!, records, new Set(selected), blockDone, progress);
      clock.lap('search');
    } else {
      // Only MBQ weights its loss by modality (docs/algorithm.md §3).
      if (opts.method === 'mbq') {
        sensitivity = await sensitivityStage(run, analysis, calib, padTokenId(model), s.work, progress, opts.memoryLimits);
        clock.lap('sensitivity');
      }
      records = await searchStage(run, analysis, { config, sensitivity, work: s.work, selected: new Set(selected), blockDone }, progress);
      clock.lap('search');
      if (opts.saveSearch) {
        await writeSearchFile(opts.saveSearch, {
          format: SEARCH_FILE_FORMAT, version: SEARCH_FILE_VERSION, backend: tf.getBackend(),
          inputs: await searchInputs(opts, config, model, batch, keptFloat), sensitivity, groups: records,
        });
      }
    }

    const foldRelativeError = await checkFold(run);
    const quantized = await quantizeStage(state, analysis, selected, { wBits: opts.wBits, aBits: opts.aBits, groupSize }, progress);
    clock.lap('quantize');
    const evaluation = await evaluateStage(run, analysis, quantized, { captionLossFloat, foldRelativeError }, progress);
    run.dispose(); // the float logits [B, S, V] and cached weights are not needed to write the output
    clock.lap('evaluate');

    const quantization = await emitStage(s.out, { opts, groupSize, model, analysis, calib, records, sensitivity, rotation, quantized, evaluation, state, selected }, progress);
    clock.lap('emit');
    return {
      outDir: s.out.outDir, backend: tf.getBackend(), quantization, timings: clock.timings,
      weights: { peakResidentBytes: lazy?.peakResidentBytes ?? 0, diskReads: lazy?.diskReads ?? 0 },
      model: opts.keepModel ? { state, analysis, quantized, io } : undefined,
    };
  } finally {
    run.dispose();
    // Folded weights spilled to scratch go with it (keepModel hands them over: they stay in memory).
    if (!opts.keepModel) lazy?.dispose();
  }
}

/** A work directory or search file outlives the output and never touches the input: it must be inside neither. */
function checkOutside(option: string, p: string, modelDir: string, outDir: string): void {
  for (const [what, dir] of [['input', modelDir], ['output', outDir]] as const) {
    const rel = path.relative(path.resolve(dir), path.resolve(p));
    if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
      throw new ConversionError('OPTION', `${option} ${p} is inside the ${what} directory ${dir}; choose a path outside it`, p);
    }
  }
}
