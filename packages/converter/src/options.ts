/** Conversion options, their defaults and validation (clear errors naming the option). */
import { MAX_WEIGHT_BITS, MIN_WEIGHT_BITS, weightBitsProblem } from '@tfjs-mbq/format';
import type { QuantMethod, LossMode, ScaleFamily } from './search/types.js';
import type { EmitMode } from './emit/graph_model.js';
import { ConversionError } from './io/errors.js';
import type { OutputFs } from './io/atomic.js';
import { quantizedMatMulBitsError } from '@tfjs-mbq/ops';
import { quantizedMatMulAttrsProblem } from '@tfjs-mbq/format';
import { BACKEND_NAMES, type BackendName } from '@tfjs-mbq/ops/backends';
import { linearPatternProblem } from './graph/linear_selection.js';
import { resolveMemoryLimits, type MemoryLimits } from './memory_limits.js';

/** Options of {@link convert} (the CLI's `tfjs-mbq convert` flags, camel-cased). */
export interface ConvertOptions {
  /** The float tfjs graph model directory: model.json + shards, config.json, tokenizer.json, mbq.json. */
  modelDir: string;
  /** Calibration directory: manifest.jsonl and its PNG/JPEG images. */
  calibDir: string;
  /** Output directory, written atomically; must not be inside `modelDir`; non-empty needs `overwrite`. */
  outDir: string;
  /** `mbq` (default), `awq`, `rtn` (round-to-nearest, no search) or `smoothquant` (needs `aBits`). */
  method?: QuantMethod;
  /** Weight bits, 2..8 (default 3). */
  wBits?: number;
  /** Activation bits (weight-activation quantization, e.g. 8 for W4A8). */
  aBits?: number;
  /** Default: the largest of 128/64/32 that divides every quantized K. */
  groupSize?: number;
  /** MBQ's reconstruction loss, `mae` (default) or `mse`; `method: 'mbq'` only. */
  loss?: LossMode;
  /** Candidate scales of the awq/mbq search (default `awq`: docs/algorithm.md §4.3). */
  scaleFamily?: ScaleFamily;
  /** Feed each block the output of the already quantized previous block (default false). */
  distort?: boolean;
  /** Hadamard-rotate the residual stream and down_proj input before the search (default false). */
  rotate?: boolean;
  /**
   * Calibration samples to use, chosen by a seeded shuffle. Default 32 (or all, if fewer): the
   * search costs 20 candidate passes per group over every sample, and 32 keeps the fixture's
   * conversion within 2 minutes on a small CPU; the paper's reference uses 128 (--samples 128).
   */
  samples?: number;
  /** Seed of the sample selection and the rotation signs (default 0). */
  seed?: number;
  /** `quantized` (default: MbqQuantizedMatMul on packed weights) or `float` (plain MatMuls, dequantized weights). */
  emit?: EmitMode;
  /**
   * Write the decoder's RMSNorms (with the residual adds they read), attention (with RoPE), SiLU gates and q/k/v, gate/up linears as
   * the fused ops of @tfjs-mbq/ops (emit/fuse.ts; default true). false: plain tfjs ops.
   */
  fuse?: boolean;
  /** Alpha grid points (docs/algorithm.md: 20). */
  gridSize?: number;
  /**
   * Glob patterns (`*`, `?`) of the decoder-block linears to quantize, matched against labels
   * (`layers.0.q_proj`) and node names; default all. The others stay float (their channel scales
   * are still folded in, which leaves a float linear's output unchanged).
   */
  include?: string[];
  /** Glob patterns of decoder-block linears to keep float (e.g. `layers.0.*`, `*.down_proj`). */
  exclude?: string[];
  /** Largest weight shard file of the output (default 4 MiB, as tensorflowjs_converter). */
  weightShardSizeBytes?: number;
  /**
   * An existing non-empty output directory is refused unless this is set; then only the files a
   * conversion writes (and the shards of a previous conversion there) are replaced, others kept.
   */
  overwrite?: boolean;
  /**
   * tfjs backend to initialise first (`initBackend` of `@tfjs-mbq/ops/backends`); `current` keeps
   * the one already set. Default: `current` when the app has set a backend, else `auto`.
   */
  backend?: BackendName | 'current';
  /** Remove the temporary output on SIGINT/SIGTERM/SIGHUP (the CLI turns this on). */
  handleSignals?: boolean;
  /** Called as each stage advances: `{ stage, done, total, detail }`. */
  onProgress?: (event: ProgressEvent) => void;
  /** Keep the folded float model and the quantized linears in the result (tests, evaluation). */
  keepModel?: boolean;
  /** File operations of the output directory (default node:fs; tests inject ENOSPC / EROFS). */
  outputFs?: OutputFs;
  /**
   * Keep the sensitivity and each block's search results here as they finish; a conversion started
   * again with the same work directory and inputs continues after the last finished block
   * (io/work_dir.ts). Not part of the output.
   */
  workDir?: string;
  /**
   * Write the search result (sensitivity and every group's scales, with the inputs they depend on)
   * to this file when the search finishes (io/search_file.ts). Not part of the output.
   */
  saveSearch?: string;
  /**
   * Apply the search result of this file (written by `saveSearch`) instead of searching: the same
   * model, calibration and search options are required; the output is the searching run's.
   */
  applySearch?: string;
  /**
   * The Hugging Face checkpoint directory that `modelDir` was imported from just before (the CLI's
   * `convert <hfDir>` imports into a scratch directory): messages and quantization.json's `source`
   * name it instead of the scratch copy.
   */
  importedFrom?: string;
  /**
   * What the conversion may hold at once where its peaks grow with the calibration samples
   * (memory_limits.ts; default DEFAULT_MEMORY_LIMITS). None changes a result (memory benchmarks, tests).
   */
  memoryLimits?: Partial<MemoryLimits>;
}

export type Stage = 'load' | 'calibrate' | 'rotate' | 'sensitivity' | 'search' | 'quantize' | 'evaluate' | 'emit';

export interface ProgressEvent {
  stage: Stage;
  done: number;
  total: number;
  detail?: string;
}

export interface ResolvedOptions extends Required<Omit<ConvertOptions, 'aBits' | 'groupSize' | 'samples' | 'onProgress' | 'keepModel' | 'outputFs' | 'backend' | 'workDir' | 'saveSearch' | 'applySearch' | 'importedFrom'>> {
  backend?: BackendName | 'current';
  importedFrom?: string;
  aBits?: number;
  workDir?: string;
  saveSearch?: string;
  applySearch?: string;
  outputFs?: OutputFs;
  groupSize?: number;
  samples?: number;
  onProgress?: (event: ProgressEvent) => void;
  keepModel: boolean;
  memoryLimits: MemoryLimits;
}

const DEFAULT_SAMPLES = 32;
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

const METHODS: readonly QuantMethod[] = ['rtn', 'awq', 'mbq', 'smoothquant'];
const BACKENDS: readonly (BackendName | 'current')[] = [...BACKEND_NAMES, 'current'];

function bad(msg: string): never {
  throw new ConversionError('OPTION', msg);
}

export function resolveOptions(o: ConvertOptions): ResolvedOptions {
  const method = o.method ?? 'mbq';
  if (!METHODS.includes(method)) bad(`--method must be one of ${METHODS.join(', ')}, got "${String(method)}"`);
  const wBits = o.wBits ?? 3;
  if (weightBitsProblem(wBits) !== undefined) bad(`--w-bits must be an integer from ${MIN_WEIGHT_BITS} to ${MAX_WEIGHT_BITS}, got ${String(wBits)}`);
  if (o.aBits !== undefined) {
    if (!Number.isInteger(o.aBits) || o.aBits < 2 || o.aBits > 16) bad(`--a-bits must be an integer from 2 to 16, got ${String(o.aBits)}`);
    // awq with --a-bits is the W4A8 search with AWQ's uniform loss: the ablation of MBQ's modality weighting.
  } else if (method === 'smoothquant') {
    bad('--method smoothquant is weight-activation quantization; give --a-bits (e.g. --w-bits 4 --a-bits 8)');
  }
  if (o.groupSize !== undefined && (!Number.isInteger(o.groupSize) || o.groupSize < 1)) bad(`--group-size must be a positive integer, got ${String(o.groupSize)}`);
  if (o.groupSize !== undefined && o.aBits !== undefined) {
    bad(`--group-size ${o.groupSize} with --a-bits ${o.aBits}: weight-activation quantization has one weight scale per output channel, not groups; leave out --group-size`);
  }
  const loss = o.loss ?? 'mae';
  if (loss !== 'mae' && loss !== 'mse') bad(`--loss must be mae or mse, got "${String(loss)}"`);
  if (o.loss !== undefined && method !== 'mbq') {
    bad(`--loss ${o.loss} chooses MBQ's modality-weighted reconstruction loss; --method ${method} ${method === 'awq' ? 'always uses the uniform MSE' : 'does not use it'}; leave out --loss or use --method mbq`);
  }
  const scaleFamily = o.scaleFamily ?? 'awq';
  if (scaleFamily !== 'awq' && scaleFamily !== 'smoothquant') bad(`--scale-family must be awq or smoothquant, got "${String(scaleFamily)}"`);
  if (scaleFamily !== 'awq' && method !== 'awq' && method !== 'mbq') {
    bad(`--scale-family ${scaleFamily} chooses the candidates of the awq/mbq alpha search; --method ${method} does not search`);
  }
  if (o.samples !== undefined && (!Number.isInteger(o.samples) || o.samples < 1)) bad(`--samples must be a positive integer, got ${String(o.samples)}`);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) bad(`--seed must be a non-negative integer, got ${String(seed)}`);
  const emit = o.emit ?? 'quantized';
  if (emit !== 'quantized' && emit !== 'float') bad(`--emit must be quantized or float, got "${String(emit)}"`);
  if (emit === 'float' && o.aBits !== undefined) {
    // A float graph has plain MatMuls: the activation quantization would be silently dropped.
    bad(`--emit float with --a-bits ${String(o.aBits)}: a float graph holds plain MatMul nodes with dequantized weights and cannot quantize activations, so the W${wBits}A${String(o.aBits)} model would run with float activations; use --emit quantized (MbqQuantizedMatMul, --a-bits 8) or leave out --a-bits`);
  }
  if (emit === 'quantized' && o.aBits !== undefined) {
    // The node's attribute rules (format) and the kernels' bit pairs (ops), checked before any work.
    const why = quantizedMatMulAttrsProblem({ bits: wBits, groupSize: 1, inFeatures: 1, actBits: o.aBits }) ?? quantizedMatMulBitsError(wBits, o.aBits);
    if (why) bad(`--a-bits ${o.aBits} with --w-bits ${wBits}${o.wBits === undefined ? ' (the default)' : ''}: the MbqQuantizedMatMul op cannot run them (${why}); use --w-bits 4 --a-bits 8`);
  }
  for (const option of ['include', 'exclude'] as const) {
    const list = o[option];
    if (list === undefined) continue;
    if (!Array.isArray(list)) bad(`--${option} must be a list of patterns, got ${typeof list}`);
    for (const p of list) {
      const why = linearPatternProblem(p);
      if (why) bad(`--${option} pattern ${JSON.stringify(p)} ${why}`);
    }
  }
  const shardBytes = o.weightShardSizeBytes ?? DEFAULT_SHARD_BYTES;
  if (!Number.isSafeInteger(shardBytes) || shardBytes < 1024) bad(`--weight-shard-size-bytes must be an integer >= 1024, got ${String(o.weightShardSizeBytes)}`);
  const gridSize = o.gridSize ?? 20;
  if (!Number.isInteger(gridSize) || gridSize < 1) bad(`gridSize must be a positive integer, got ${String(gridSize)}`);
  if (!o.modelDir) bad('a model directory is required');
  if (!o.calibDir) bad('--calib <dir> is required');
  if (!o.outDir) bad('--out <dir> is required');
  if (o.saveSearch !== undefined && (typeof o.saveSearch !== 'string' || !o.saveSearch)) bad('--save-search must be a file path');
  if (o.applySearch !== undefined && (typeof o.applySearch !== 'string' || !o.applySearch)) bad('--apply-search must be a file path');
  if (o.applySearch && o.saveSearch) bad(`--save-search with --apply-search: a conversion that applies ${o.applySearch} does not search; leave out --save-search`);
  if (o.applySearch && o.workDir) bad(`--work-dir with --apply-search: the work directory resumes a search, and ${o.applySearch} replaces the search; leave out --work-dir`);
  const memoryLimits = resolveMemoryLimits(o.memoryLimits, bad);
  const backend = o.backend;
  if (backend !== undefined && !(BACKENDS as readonly string[]).includes(backend)) bad(`--backend must be one of ${BACKENDS.join(', ')}, got "${String(backend)}"`);
  return {
    modelDir: o.modelDir, calibDir: o.calibDir, outDir: o.outDir, method, wBits, aBits: o.aBits,
    groupSize: o.groupSize, loss, scaleFamily, distort: o.distort ?? false, rotate: o.rotate ?? false, samples: o.samples ?? DEFAULT_SAMPLES,
    seed, emit, fuse: o.fuse ?? true, gridSize, overwrite: o.overwrite ?? false, backend, handleSignals: o.handleSignals ?? false, onProgress: o.onProgress, keepModel: o.keepModel ?? false, outputFs: o.outputFs,
    workDir: o.workDir, saveSearch: o.saveSearch, applySearch: o.applySearch, importedFrom: o.importedFrom, include: o.include ?? [], exclude: o.exclude ?? [], weightShardSizeBytes: shardBytes,
    memoryLimits,
  };
}

/** The group size: the given one (which must divide every K), else the largest of 128/64/32 that does. */
export function chooseGroupSize(requested: number | undefined, ks: Array<{ label: string; K: number }>, weightActivation: boolean): number {
  if (weightActivation) return 0; // per output channel
  if (requested !== undefined) {
    const bad1 = ks.find((x) => x.K % requested !== 0);
    if (bad1) bad(`--group-size ${requested} does not divide K = ${bad1.K} of linear ${bad1.label}`);
    return requested;
  }
  for (const g of [128, 64, 32]) if (ks.every((x) => x.K % g === 0)) return g;
  const odd = ks.find((x) => x.K % 32 !== 0)!;
  return bad(`no default group size (128, 64 or 32) divides K = ${odd.K} of linear ${odd.label}; give --group-size`);
}
