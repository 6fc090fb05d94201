/**
 * `tfjs-mbq bench <modelDir>`: how fast a (converted) model loads, prefills and decodes on this
 * machine, next to its float baseline. Both models run in one process and one backend, their runs
 * interleaved (A, B, A, B, ...) so drift (thermal, other load) hits both alike.
 */
import { promises as fs, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import * as tf from '@tensorflow/tfjs-core';
import { isConversionError, readImageFile } from '@tfjs-mbq/converter';
import { FUSED_OPS, MAX_JSON_BYTES, SourceReadError } from '@tfjs-mbq/format';
import { fileSource } from '@tfjs-mbq/format/node';
import { fuseModelDir, importCheckpoint, isHfCheckpointDir, isImportError, reimportInputs } from '@tfjs-mbq/importer';
import { loadVlm, type RgbaImage, type Vlm } from '@tfjs-mbq/runtime';
import { CACHE_UNPACKED_WEIGHTS } from '@tfjs-mbq/ops';
import { BACKEND_NAMES, initBackend, type BackendName } from '@tfjs-mbq/ops/backends';
import { table } from '../ui/progress.js';
import { printable, printableLines, terminalJson } from '../ui/terminal_text.js';
import { removeOnSignal } from './scratch_guard.js';

interface BenchArgs {
  modelDir: string;
  baseline?: string;
  backend: BackendName;
  image?: string;
  question?: string;
  tokens: number;
  warmup: number;
  runs: number;
  json: boolean;
  /** tfjs flag MBQ_CACHE_UNPACKED_WEIGHTS (wasm: unpack each low-bit weight once). */
  cacheUnpackedWeights?: boolean;
  /** A fused model's unfused float baseline runs as a fused scratch copy (default true). */
  matchGraphs?: boolean;
}

/** Median, 90th percentile (nearest rank) and the samples they come from, in milliseconds or per second. */
export interface BenchStats { median: number; p90: number; samples: number[] }

export interface ModelBench {
  role: 'model' | 'baseline';
  dir: string;
  /** `fused`: the graph has the fused decoder ops (FUSED_OPS of @tfjs-mbq/format) convert writes. */
  graph: 'fused' | 'unfused';
  /** Nodes of those ops in the graph. */
  fusedNodes: number;
  /** Sum of the weight shard files listed in model.json. */
  weightBytes: number;
  weightFiles: number;
  /** tf.memory().numBytes added by loading the model (weights on the backend). */
  memoryBytes: number;
  /** How decode steps run: `kv-cache` (one position per step) or `re-run`; the note says why. */
  decoding: string;
  decodingNote: string;
  promptLength: number;
  /** Greedy tokens of the last run: the prefill's, then one per decode step (forced past EOS). */
  tokenIds: number[];
  /** Whole loadVlm(): files, graph, KV-cache planning and its check against a full run. */
  loadMs: BenchStats;
  /** Image preprocessing + prefill over the prompt + reading the first token back. */
  prefillMs: BenchStats;
  /** One decode step each (all steps of all measured runs). */
  decodeMsPerToken: BenchStats;
  /** Decode steps per second of each run. */
  tokensPerSecond: BenchStats;
}

export interface BenchReport {
  backend: string;
  backendDetail: string;
  /** Whether wasm kept unpacked float weights between calls (their bytes are not in memoryBytes). */
  cacheUnpackedWeights: boolean;
  image: string;
  question: string;
  tokens: number;
  warmup: number;
  runs: number;
  /** Where the baseline came from: --baseline, metadata of the model, or none. */
  baselineFrom: 'option' | 'quantization.json' | 'model.json' | null;
  /**
   * What ran as the baseline, made from the directory named: `import` (a Hugging Face checkpoint,
   * imported fused or not as the model is), `fuse` (a fused copy of an unfused float model, for a
   * fused model), or null (the directory as it is).
   */
  baselineMade: 'import' | 'fuse' | null;
  models: ModelBench[];
  /** Whether model and baseline are both fused or both unfused graphs (null without a baseline): otherwise the ratios mix graph and weight effects. */
  sameGraphs: boolean | null;
  /** model / baseline of each median (and of weight and memory bytes); null without a baseline. */
  ratio: Record<'weightBytes' | 'memoryBytes' | 'loadMs' | 'prefillMs' | 'decodeMsPerToken' | 'tokensPerSecond', number> | null;
  tensors: { before: number; after: number; leaked: number };
}

/** Bad input: reported as one line, exit code 1. */
class BenchInputError extends Error {}

const EVAL_DATA = 'fixtures/shapes-vqa/eval';

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench <modelDir>',
  describe: 'Time load, prefill and per-token decode of a model against its float baseline (interleaved runs)',
  builder: (y: Argv<object>) =>
    y
      .positional('modelDir', { type: 'string', demandOption: true, describe: 'directory with model.json, mbq.json, tokenizer.json' })
      .option('baseline', { type: 'string', describe: 'float model directory to compare with, or the Hugging Face checkpoint it was converted from (imported float32 for the run) [default: the source recorded in the model\'s metadata, if any]' })
      .option('backend', { choices: BACKEND_NAMES as BackendName[], default: 'auto' as BackendName, describe: 'tfjs backend' })
      .option('image', { type: 'string', describe: `PNG/JPEG to ask about (default: the first one of ${EVAL_DATA}, if present)` })
      .option('question', { type: 'string', describe: `question text (default: the first one of ${EVAL_DATA}, if present)` })
      .option('tokens', { type: 'number', default: 16, describe: 'decode steps to time per run (forced past EOS)' })
      .option('warmup', { type: 'number', default: 1, describe: 'untimed rounds before the timed ones' })
      .option('runs', { type: 'number', default: 5, describe: 'timed rounds per model' })
      .option('json', { type: 'boolean', default: false, describe: 'print the raw numbers as JSON' })
      .option('match-graphs', { type: 'boolean', default: true, describe: 'for a fused model (convert\'s default), run an unfused float baseline as a fused copy made for the run (import\'s fuse pass), so both run the same ops; --no-match-graphs: the baseline as it is' })
      .option('cache-unpacked-weights', { type: 'boolean', default: false, describe: 'wasm: unpack each low-bit weight once and keep it as float32 on the wasm heap (near-float decode speed, float memory; tfjs flag MBQ_CACHE_UNPACKED_WEIGHTS)' })
      .example('$0 bench out/tiny-vlm-mbq-w4 --baseline fixtures/tiny-vlm --backend wasm', 'W4 model against the float fixture')
      .example('$0 bench fixtures/tiny-vlm --tokens 32 --runs 10 --json', 'one model, raw numbers') as unknown as Argv<BenchArgs>,
  handler: async (args: ArgumentsCamelCase<BenchArgs>) => {
    try {
      const report = await bench(args);
      process.stdout.write(args.json ? terminalJson(report, 2) + '\n' : printableLines(formatBenchReport(report)) + '\n');
      if (report.tensors.leaked !== 0) process.stderr.write(`tfjs-mbq bench: warning: ${report.tensors.leaked} tensors left after disposing the models\n`);
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      // Bad input (and model files the runtime rejects) are reported as one line naming the file.
      process.stderr.write(`tfjs-mbq bench: ${printable(e.message)}\n`);
      process.exitCode = 1;
    }
  },
};

export async function bench(args: BenchArgs): Promise<BenchReport> {
  for (const [key, min] of [['tokens', 1], ['runs', 1], ['warmup', 0]] as const) {
    if (!Number.isInteger(args[key]) || args[key] < min) throw new BenchInputError(`--${key} must be an integer >= ${min}, got ${String(args[key])}`);
  }
  const modelDir = await checkModelDir(args.modelDir);
  const { dir: baselineFound, from: baselineFrom, note } = await resolveBaseline(args.baseline, modelDir);
  if (note) process.stderr.write(`tfjs-mbq bench: ${printable(note)}\n`);
  // A Hugging Face checkpoint as the baseline (what `convert <hfDir>` records): imported float32 into
  // a scratch directory, as the converted model's graph was (same image size and positions).
  let scratch: string | undefined;
  let releaseScratch = (): void => undefined;
  let baselineDir = baselineFound;
  let baselineMade: BenchReport['baselineMade'] = null;
  try {
    // Fused as the model is, so that the two graphs differ only in their linears.
    const fused = baselineFound !== null && (await modelFiles(modelDir)).fusedNodes > 0;
    if (baselineFound && !existsSync(path.join(baselineFound, 'model.json')) && await isHfCheckpointDir(baselineFound)) {
      process.stderr.write(`tfjs-mbq bench: importing the float baseline from the Hugging Face checkpoint ${printable(baselineFound)} (${fused ? 'fused' : 'unfused'}, as the model)\n`);
      scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'tfjs-mbq-bench-'));
      releaseScratch = removeOnSignal(scratch, 'bench');
      const mbq = await readModelJson(modelDir, 'mbq.json') as Parameters<typeof reimportInputs>[0];
      baselineDir = (await importCheckpoint({ hfDir: baselineFound, outDir: path.join(scratch, 'model'), ...reimportInputs(mbq), fuse: fused })).outDir;
      baselineMade = 'import';
    } else if (baselineFound && fused && (args.matchGraphs ?? true) && (await modelFiles(baselineFound)).fusedNodes === 0) {
      process.stderr.write(`tfjs-mbq bench: fusing the float baseline ${printable(baselineFound)} into a scratch copy, as the model is fused (--no-match-graphs: as it is)\n`);
      scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'tfjs-mbq-bench-'));
      releaseScratch = removeOnSignal(scratch, 'bench');
      try {
        baselineDir = (await fuseModelDir(baselineFound, path.join(scratch, 'model'))).outDir;
      } catch (e) {
        if (isConversionError(e)) throw new BenchInputError(`the baseline ${baselineFound}: ${e.message} (--no-match-graphs runs it as it is)`);
        throw e;
      }
      baselineMade = 'fuse';
    }
    const report = { ...await benchModels(args, modelDir, baselineDir, baselineFrom), baselineMade };
    // The report names the baseline as the user knows it (the checkpoint), not the scratch copy.
    if (scratch && report.models[1]) report.models[1].dir = baselineFound!;
    return report;
  } catch (e) {
    if (isImportError(e)) throw new BenchInputError(`the baseline ${baselineFound}: ${e.message}`);
    throw e;
  } finally {
    releaseScratch();
    if (scratch) await fs.rm(scratch, { recursive: true, force: true });
  }
}

async function benchModels(args: BenchArgs, modelDir: string, baselineDir: string | null, baselineFrom: BenchReport['baselineFrom']): Promise<Omit<BenchReport, 'baselineMade'>> {
  const { imagePath, question } = await resolveInput(args.image, args.question);
  const image = await readImage(imagePath);
  const dirs = baselineDir ? [modelDir, baselineDir] : [modelDir];
  const files = await Promise.all(dirs.map(modelFiles));
  if (files.length === 2 && (files[0]!.fusedNodes > 0) !== (files[1]!.fusedNodes > 0)) {
    process.stderr.write(`tfjs-mbq bench: warning: the model's graph is ${graphOf(files[0]!)} but the baseline's ${graphOf(files[1]!)}: the ratios mix op fusion with the weights\n`);
  }

  const backend = await initBackend(args.backend);
  const cacheUnpackedWeights = args.cacheUnpackedWeights ?? false;
  tf.env().set(CACHE_UNPACKED_WEIGHTS, cacheUnpackedWeights);
  const before = tf.memory().numTensors;
  const rounds = args.warmup + args.runs;
  const loaded: Vlm[] = [];
  const load = dirs.map(() => [] as number[]);
  const memory = dirs.map(() => 0);
  const prefill = dirs.map(() => [] as number[]);
  const steps = dirs.map(() => [] as number[][]);
  const lastTokens = dirs.map(() => [] as number[]);
  let promptLength = 0;
  try {
    // Loads, interleaved; the last round keeps its models for the decode rounds.
    for (let r = 0; r < rounds; r++) {
      const keep = r === rounds - 1;
      for (let m = 0; m < dirs.length; m++) {
        const bytes0 = tf.memory().numBytes;
        const t0 = performance.now();
        const vlm = await loadVlm(dirs[m]!, { backend: 'current' });
        const ms = performance.now() - t0;
        if (r >= args.warmup) load[m]!.push(ms);
        if (keep) { loaded.push(vlm); memory[m] = tf.memory().numBytes - bytes0; } else vlm.dispose();
      }
    }
    for (let r = 0; r < rounds; r++) {
      for (let m = 0; m < loaded.length; m++) {
        const t = await loaded[m]!.timeDecode(image, question, { steps: args.tokens });
        promptLength = t.promptLength;
        lastTokens[m] = t.tokenIds;
        if (r < args.warmup) continue;
        prefill[m]!.push(t.prefillMs);
        steps[m]!.push(t.stepMs);
      }
    }
  } finally {
    for (const vlm of loaded) vlm.dispose();
  }
  const after = tf.memory().numTensors;

  const models: ModelBench[] = dirs.map((dir, m) => ({
    role: m === 0 ? 'model' : 'baseline',
    dir,
    graph: graphOf(files[m]!),
    fusedNodes: files[m]!.fusedNodes,
    weightBytes: files[m]!.bytes,
    weightFiles: files[m]!.files,
    memoryBytes: memory[m]!,
    decoding: loaded[m]!.decoding,
    decodingNote: loaded[m]!.decodingNote,
    promptLength,
    tokenIds: lastTokens[m]!,
    loadMs: stats(load[m]!),
    prefillMs: stats(prefill[m]!),
    decodeMsPerToken: stats(steps[m]!.flat()),
    tokensPerSecond: stats(steps[m]!.map((s) => (1000 * s.length) / s.reduce((a, b) => a + b, 0))),
  }));
  const [a, b] = models;
  const ratio = b
    ? {
      weightBytes: a!.weightBytes / b.weightBytes,
      memoryBytes: a!.memoryBytes / b.memoryBytes,
      loadMs: a!.loadMs.median / b.loadMs.median,
      prefillMs: a!.prefillMs.median / b.prefillMs.median,
      decodeMsPerToken: a!.decodeMsPerToken.median / b.decodeMsPerToken.median,
      tokensPerSecond: a!.tokensPerSecond.median / b.tokensPerSecond.median,
    }
    : null;
  return {
    backend: backend.backend, backendDetail: backend.detail, cacheUnpackedWeights, image: imagePath, question,
    tokens: args.tokens, warmup: args.warmup, runs: args.runs, baselineFrom, models, sameGraphs: b ? a!.graph === b.graph : null, ratio,
    tensors: { before, after, leaked: after - before },
  };
}

export function stats(samples: number[]): BenchStats {
  const s = samples.slice().sort((x, y) => x - y);
  const n = s.length;
  if (!n) return { median: NaN, p90: NaN, samples };
  const median = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { median, p90: s[Math.ceil(0.9 * n) - 1]!, samples };
}

export function formatBenchReport(r: BenchReport): string {
  const [a, b] = r.models as [ModelBench, ModelBench | undefined];
  const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  // Each row: label, the number, how to print it; the ratio column is model / baseline of that number.
  const rows: Array<[string, (m: ModelBench) => number, (x: number) => string]> = [
    ['weights on disk (MiB)', (m) => m.weightBytes / 2 ** 20, (x) => x.toFixed(2)],
    ['tensor memory after load (MiB)', (m) => m.memoryBytes / 2 ** 20, (x) => x.toFixed(2)],
    ['load (ms, median)', (m) => m.loadMs.median, ms],
    ['prefill (ms, median)', (m) => m.prefillMs.median, ms],
    ['prefill (ms, p90)', (m) => m.prefillMs.p90, ms],
    ['decode (ms/token, median)', (m) => m.decodeMsPerToken.median, ms],
    ['decode (ms/token, p90)', (m) => m.decodeMsPerToken.p90, ms],
    ['decode (tokens/s, median)', (m) => m.tokensPerSecond.median, (x) => x.toFixed(1)],
  ];
  const headers = b ? ['', 'model', 'baseline', 'model/baseline'] : ['', 'model'];
  const body = rows.map(([label, get, fmt]) => (b ? [label, fmt(get(a)), fmt(get(b)), (get(a) / get(b)).toFixed(2)] : [label, fmt(get(a))]));
  const out = [
    `backend ${r.backend} (${r.backendDetail})${r.cacheUnpackedWeights ? ', unpacked weights cached (float32 on the wasm heap, not counted below)' : ''}`,
    `model:    ${a.dir} (${a.graph} graph, ${a.decoding})`,
    b ? `baseline: ${b.dir} (${b.graph} graph${r.baselineMade === 'fuse' ? ' made for the run' : r.baselineMade === 'import' ? ', imported for the run' : ''}, ${b.decoding}${r.baselineFrom === 'option' ? '' : `, from ${r.baselineFrom}`})` : 'baseline: none (pass --baseline <floatModelDir> to compare)',
    ...(r.sameGraphs === false ? ['graphs differ (fused vs unfused): the ratios mix op fusion with the weights'] : []),
    `prompt: ${a.promptLength} tokens ("${r.question}" about ${r.image}); ${r.tokens} decode steps per run, forced past EOS`,
    `${r.warmup} warmup + ${r.runs} timed rounds${b ? ', models interleaved' : ''}`,
    '',
    table(headers, body),
  ];
  return out.join('\n');
}

async function checkModelDir(dir: string): Promise<string> {
  const st = await fs.stat(dir).catch(() => null);
  if (!st) throw new BenchInputError(`${dir}: model directory not found`);
  if (!st.isDirectory()) throw new BenchInputError(`${dir}: not a directory (expected a model directory with model.json)`);
  if (!existsSync(path.join(dir, 'model.json'))) throw new BenchInputError(`${dir}: no model.json (not a tfjs graph model directory)`);
  return dir;
}

/**
 * A JSON file of a model directory, read as the loader reads it: inside the directory after
 * resolving links, a regular file (a FIFO would block, /dev/zero fill memory), of bounded size.
 * Absent: undefined when `optional`, else an error naming it.
 */
async function readModelJson(dir: string, file: string, { optional = false } = {}): Promise<unknown> {
  const source = fileSource(dir);
  let bytes: Uint8Array;
  try {
    bytes = await source.read(file, MAX_JSON_BYTES);
  } catch (e) {
    if (!(e instanceof SourceReadError)) throw e;
    if (optional && e.problem === 'not-found') return undefined;
    throw new BenchInputError(e.message);
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch (e) {
    throw new BenchInputError(`${source.where(file)}: cannot parse (${(e as Error).message})`);
  }
}

/** The float model a converted one came from, if its metadata names one that exists. */
async function resolveBaseline(option: string | undefined, modelDir: string): Promise<{ dir: string | null; from: BenchReport['baselineFrom']; note?: string }> {
  if (option !== undefined) return { dir: await isHfCheckpointDir(option) ? option : await checkModelDir(option), from: 'option' };
  const quant = await readModelJson(modelDir, 'quantization.json', { optional: true }) as Record<string, unknown> | undefined;
  const meta = (await readModelJson(modelDir, 'model.json') as Record<string, unknown> | undefined)?.userDefinedMetadata as { mbq?: { source?: unknown } } | undefined;
  const recorded: Array<[BenchReport['baselineFrom'], unknown]> = [['quantization.json', quant?.source], ['model.json', meta?.mbq?.source]];
  for (const [from, source] of recorded) {
    if (typeof source !== 'string' || !source) continue;
    for (const dir of [source, path.resolve(modelDir, source)]) {
      if (existsSync(path.join(dir, 'model.json')) || await isHfCheckpointDir(dir)) return { dir, from };
    }
    return { dir: null, from: null, note: `the source model ${source} recorded in ${modelDir}/${from} is not here; benchmarking ${modelDir} alone` };
  }
  return { dir: null, from: null };
}

/** --image / --question, or the first question of the shapes-vqa eval set when one is present. */
async function resolveInput(image: string | undefined, question: string | undefined): Promise<{ imagePath: string; question: string }> {
  if (image !== undefined && question !== undefined) return { imagePath: image, question };
  const here = path.dirname(fileURLToPath(import.meta.url)); // packages/cli/{src,dist}/commands
  const dataDir = [EVAL_DATA, path.resolve(here, '../../../..', EVAL_DATA)].find((d) => existsSync(path.join(d, 'manifest.jsonl')));
  if (!dataDir) {
    throw new BenchInputError(`${[image === undefined && '--image', question === undefined && '--question'].filter(Boolean).join(' and ')} required (no ${EVAL_DATA}/manifest.jsonl here to take a default from)`);
  }
  const manifest = path.join(dataDir, 'manifest.jsonl');
  const first = JSON.parse((await fs.readFile(manifest, 'utf8')).split('\n')[0] ?? '') as { image?: unknown; question?: unknown };
  if (typeof first.image !== 'string' || typeof first.question !== 'string') throw new BenchInputError(`${manifest}: the first line has no image and question`);
  return { imagePath: image ?? path.join(dataDir, first.image), question: question ?? first.question };
}

async function readImage(file: string): Promise<RgbaImage> {
  const img = await readImageFile(file);
  if (typeof img === 'string') throw new BenchInputError(`${file}: cannot read image (${img})`);
  return { data: img.bitmap.data, width: img.bitmap.width, height: img.bitmap.height };
}

interface ModelFiles {
  /** Bytes of the weight shards model.json lists (what a user downloads besides the JSON files). */
  bytes: number;
  files: number;
  /** Nodes of the fused decoder ops in the graph. */
  fusedNodes: number;
}

const graphOf = (f: Pick<ModelFiles, 'fusedNodes'>): ModelBench['graph'] => (f.fusedNodes > 0 ? 'fused' : 'unfused');

async function modelFiles(dir: string): Promise<ModelFiles> {
  const file = path.join(dir, 'model.json');
  const json = (await readModelJson(dir, 'model.json') ?? {}) as { weightsManifest?: Array<{ paths?: unknown }>; modelTopology?: { node?: unknown } };
  if (!Array.isArray(json.weightsManifest)) throw new BenchInputError(`${file}: no weightsManifest`);
  const paths = json.weightsManifest.flatMap((g) => (Array.isArray(g.paths) ? g.paths.filter((p): p is string => typeof p === 'string') : []));
  let bytes = 0;
  // Sized as the loader reads them: inside the directory, regular files (no size of a file elsewhere is told).
  const source = fileSource(dir);
  for (const p of paths) {
    try {
      bytes += (await source.localFile!(p, Number.MAX_SAFE_INTEGER)).bytes;
    } catch (e) {
      if (!(e instanceof SourceReadError)) throw e;
      throw new BenchInputError(e.problem === 'not-found' ? `${source.where(p)}: weight shard listed in model.json not found` : e.message);
    }
  }
  const nodes = Array.isArray(json.modelTopology?.node) ? json.modelTopology.node as Array<{ op?: unknown }> : [];
  const fusedNodes = nodes.filter((n) => typeof n.op === 'string' && FUSED_OPS.includes(n.op)).length;
  return { bytes, files: paths.length, fusedNodes };
}
