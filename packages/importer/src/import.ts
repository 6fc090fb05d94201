/**
 * `importCheckpoint`: a Hugging Face checkpoint directory -> the project's model directory
 * (model.json + shards, config.json, mbq.json, the tokenizer and processor files), written
 * atomically. Weights stream one tensor at a time from safetensors into the shards.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicOutputDir, GraphBuilder, checkOutputPath, isConversionError, type FuseReport, type GraphDefJson, type ModelJson, type WeightEntryJson } from '@tfjs-mbq/converter';
import { configMaxPositions, imageSizeError, processedImageShape, type ImageInputLayout, type ImageProcessorConfig, type MbqJson } from '@tfjs-mbq/format';
import { planArchitecture, type ArchitecturePlan } from './arch/index.js';
import { MAX_POSITIONS } from './arch/text_config.js';
import { loadWeight, type WeightSpec } from './arch/plan.js';
import { ImportError } from './errors.js';
import { writeFusedWeights } from './fuse.js';
import { GraphOps } from './graph/graph_ops.js';
import { readHfDir } from './hf_dir.js';
import { readImageProcessor } from './image_processor.js';
import { promptLayout, type PromptLayout } from './prompt_layout.js';
import { SafetensorsCheckpoint } from './safetensors/index.js';
import { ShardWriter, appendHalf, float32Entry, shardNames, storedBytes, type StoredDtype } from './write/weights_file.js';

export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;
const LARGE_TENSOR_BYTES = 32 * 1024 * 1024;

export interface ImportOptions {
  /** The Hugging Face checkpoint directory: config.json, safetensors weights, tokenizer and processor files. */
  hfDir: string;
  /** Output model directory, written atomically; an existing non-empty one is refused. */
  outDir: string;
  /** Storage of the checkpoint's weights (tables and scalars the graph adds stay float32). */
  dtype?: StoredDtype;
  /** Largest weight shard file (default 4 MiB; the CLI's --weight-shard-size-bytes). */
  shardBytes?: number;
  /** Qwen2-VL: the resized image size [H, W] the graph is built for (default: the processor's size for a 448x448 image). */
  imageSize?: [number, number];
  /**
   * The most positions (prompt + answer tokens) the graph covers, at most MAX_POSITIONS (16384);
   * default: config.json's max_position_embeddings, or 4096 when it states more (mbq.json then
   * records `maxPositions`, which the runtime and the converter honour).
   */
  maxPositions?: number;
  /**
   * Rewrite the decoder into the converter's fused ops (MbqRmsNorm, MbqSiluGate, MbqRopeAppendKv, MbqAttention;
   * merged qkv and gate-up linears), as `convert` writes its output: the float model then runs like
   * for like against a converted one. Default false: the converter reads (and refuses anything but)
   * the unfused graph. Costs a second pass over the weights (the unfused shards are written first).
   */
  fuse?: boolean;
  /** Called after each weight is written. */
  onProgress?: (e: { done: number; total: number; name: string }) => void;
  /** Remove the temporary output on SIGINT/SIGTERM/SIGHUP (the CLI turns this on). */
  handleSignals?: boolean;
}

/** mbq.json of an imported checkpoint: the format's fields plus how to make its inputs. */
export interface ImportedMbqJson extends MbqJson {
  tokenizer: 'hf';
  imageProcessor: ImageProcessorConfig;
  imageInput: ImageInputLayout;
  source: { architecture: string; dtype: StoredDtype };
}

export interface ImportResult {
  outDir: string;
  architecture: string;
  mbq: ImportedMbqJson;
  weights: number;
  weightBytes: number;
  shards: number;
  /** What `fuse` rewrote; absent without it. */
  fused?: FuseReport;
}

/** Param lookups declare a Const whose data the writer streams from the checkpoint later. */
class StreamingGraphOps extends GraphOps {
  readonly used = new Set<string>();
  constructor(b: GraphBuilder, private readonly specs: ReadonlyMap<string, WeightSpec>) {
    super(b);
  }
  override param(name: string): string {
    if (this.b.has(name)) return name;
    const s = this.specs.get(name);
    if (!s) throw new Error(`import: the graph reads '${name}', which the architecture's weight plan does not list`);
    this.used.add(name);
    return this.b.declareConstant(name, s.shape, 'float32');
  }
}

function buildGraph(plan: ArchitecturePlan, offset: number): { b: GraphBuilder; specs: Map<string, WeightSpec> } {
  const specs = new Map(plan.weights.map((w) => [w.name, w]));
  const b = new GraphBuilder();
  const o = new StreamingGraphOps(b, specs);
  const pixels = b.placeholder('pixel_values', 'float32', [-1, plan.imageSize[0], plan.imageSize[1], 3]);
  const ids = b.placeholder('input_ids', 'int32', [-1, -1]);
  plan.forward(o, pixels, ids, offset);
  const unread = plan.weights.filter((w) => !o.used.has(w.name));
  if (unread.length > 0) throw new Error(`import: the weight plan lists '${unread[0]!.name}' but the graph never reads it`);
  return { b, specs };
}

function mbqJsonOf(plan: ArchitecturePlan, layout: PromptLayout, processor: ImageProcessorConfig, dtype: StoredDtype, dir: string, config: unknown): ImportedMbqJson {
  if (layout.imageTokenCount !== plan.imageTokenCount) {
    throw new ImportError('PROCESSOR', `${dir}: the processor puts ${layout.imageTokenCount} image tokens in a prompt but the model makes ${plan.imageTokenCount} image features`, dir);
  }
  if (layout.tokenizerVocabSize > plan.vocab) {
    // The runtime refuses such a model at load (its ids past the embedding cannot be looked up): refused here, before it is written.
    throw new ImportError('TOKENIZER', `${join(dir, 'tokenizer.json')}: has ids up to ${layout.tokenizerVocabSize - 1} but config.json's vocab_size is ${plan.vocab} (the embedding's rows)`, join(dir, 'tokenizer.json'));
  }
  if (layout.imageTokenId !== plan.imageTokenId) {
    throw new ImportError('TOKENIZER', `${dir}: the tokenizer's image token is id ${layout.imageTokenId} but config.json says ${plan.imageTokenId}`, dir);
  }
  const bos = layout.bosTokenId ?? plan.bosTokenId;
  if (bos === undefined) throw new ImportError('TOKENIZER', `${dir}: no BOS token (tokenizer_config.json bos_token or config.json bos_token_id)`, dir);
  if (layout.imageTokenOffset + layout.imageTokenCount >= plan.maxSeq) {
    throw new ImportError('CONFIG', `${dir}: the image tokens end at position ${layout.imageTokenOffset + layout.imageTokenCount}, past the model's ${plan.maxSeq} positions`, dir);
  }
  const mbq: ImportedMbqJson = {
    imageTokenCount: layout.imageTokenCount, imageTokenOffset: layout.imageTokenOffset, imageTokenId: layout.imageTokenId,
    bosTokenId: bos, eosTokenId: layout.eosTokenId, imageSize: plan.imageSize,
    tokenizer: 'hf', imageProcessor: processor, imageInput: plan.imageInput, source: { architecture: plan.architecture, dtype },
  };
  const pad = layout.padTokenId ?? plan.padTokenId;
  if (pad !== undefined) mbq.padTokenId = pad;
  // The graph covers fewer positions than config.json states: readers take the smaller.
  if (configMaxPositions(config) !== plan.maxSeq) mbq.maxPositions = plan.maxSeq;
  return mbq;
}

/** Index of the first NaN or infinite value, or -1. */
function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

async function writeWeights(dir: string, b: GraphBuilder, specs: ReadonlyMap<string, WeightSpec>, ckpt: SafetensorsCheckpoint, dtype: StoredDtype, shardBytes: number, onProgress: ImportOptions['onProgress']): Promise<{ entries: WeightEntryJson[]; paths: string[]; bytes: number }> {
  const small = new Map(b.constants().map((c) => [c.name, c]));
  const order = b.graph().node.filter((n) => n.op === 'Const').map((n) => n.name);
  const size = (name: string): number => {
    const s = specs.get(name);
    return s ? storedBytes(s.shape.reduce((x, y) => x * y, 1), dtype) : small.get(name)!.data.byteLength;
  };
  const total = order.reduce((acc, n) => acc + size(n), 0);
  const paths = shardNames(total, shardBytes);
  const writer = new ShardWriter(dir, paths, shardBytes);
  const entries: WeightEntryJson[] = [];
  let done = 0;
  const bytes = await writer.writeAll(async () => {
    for (const name of order) {
      const s = specs.get(name);
      if (!s) {
        const c = small.get(name)!;
        entries.push({ name, shape: c.shape.slice(), dtype: c.dtype });
        await writer.append(new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength));
        continue;
      }
      const values = await loadWeight(ckpt, s);
      // NaN or infinite weights make every answer NaN: refused here, naming the checkpoint's file and
      // tensor (the converter would otherwise find them in the imported copy, a file the user never saw).
      const bad = firstNonFinite(values);
      if (bad >= 0) {
        const { file } = ckpt.entry(s.source);
        throw new ImportError('TENSOR_VALUE', `${file}: tensor '${s.source}' holds ${values[bad]} (weights must be finite)`, file);
      }
      if (dtype === 'float16') {
        entries.push(float32Entry(name, s.shape, true));
        // Encoded and written a chunk at a time: no half copy of the whole tensor beside it.
        const overflow = await appendHalf(writer, values);
        if (overflow >= 0) throw new ImportError('OPTION', `${ckpt.entry(s.source).file}: tensor '${s.source}' holds ${values[overflow]}, beyond float16's range; import with --dtype float32`, ckpt.source);
      } else {
        entries.push(float32Entry(name, s.shape, false));
        await writer.append(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      }
      // Large tensors come and go one after another; where the embedder exposes V8's gc (node
      // --expose-gc), collect the last one before the next is allocated: peak memory stays one tensor.
      if (values.byteLength >= LARGE_TENSOR_BYTES) (globalThis as { gc?: () => void }).gc?.();
      onProgress?.({ done: ++done, total: specs.size, name });
    }
  });
  if (bytes !== total) throw new Error(`import: wrote ${bytes} weight bytes, expected ${total}`);
  return { entries, paths, bytes };
}

/** Why `--max-positions` `v` is refused, or undefined (also when absent). */
export function maxPositionsProblem(v: number | undefined): string | undefined {
  if (v === undefined || (Number.isSafeInteger(v) && v >= 2 && v <= MAX_POSITIONS)) return undefined;
  return `--max-positions must be an integer from 2 to ${MAX_POSITIONS}, got ${v}`;
}

export async function importCheckpoint(opts: ImportOptions): Promise<ImportResult> {
  const dtype = opts.dtype ?? 'float32';
  const shardBytes = opts.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (dtype !== 'float32' && dtype !== 'float16') throw new ImportError('OPTION', `--dtype must be float32 or float16, got ${String(dtype)}`);
  if (!Number.isSafeInteger(shardBytes) || shardBytes < 1024) throw new ImportError('OPTION', `--weight-shard-size-bytes must be an integer >= 1024, got ${shardBytes}`);
  const maxPositions = opts.maxPositions;
  const positionsProblem = maxPositionsProblem(maxPositions);
  if (positionsProblem) throw new ImportError('OPTION', positionsProblem);
  try {
    checkOutputPath(opts.hfDir, opts.outDir);
  } catch (e) {
    if (isConversionError(e)) throw new ImportError('OUTPUT_PATH', e.message, opts.outDir);
    throw e;
  }
  const files = await readHfDir(opts.hfDir);
  const configFile = join(opts.hfDir, 'config.json');
  const ckpt = await SafetensorsCheckpoint.open(opts.hfDir);
  let out: AtomicOutputDir | undefined;
  try {
    const { config: processor, file } = readImageProcessor(files);
    const plan = planArchitecture(files.config, configFile, ckpt, { processor, imageSize: opts.imageSize, maxPositions });
    // Sizes the graph's tables are made from, checked before any is allocated.
    const sizeProblem = imageSizeError(plan.imageSize[1], plan.imageSize[0]);
    if (sizeProblem) throw new ImportError(opts.imageSize ? 'OPTION' : 'PROCESSOR', `${opts.imageSize ? '--image-size' : file}: the graph's input image would be ${plan.imageSize[0]}x${plan.imageSize[1]}: ${sizeProblem}`, opts.imageSize ? undefined : file);
    const problem = plan.imageProcessorProblem(processor);
    if (problem) throw new ImportError('PROCESSOR', `${file}: ${problem}`, file);
    const layout = promptLayout(files, processedImageShape(plan.imageInput, plan.imageSize));
    const mbq = mbqJsonOf(plan, layout, processor, dtype, opts.hfDir, files.config);
    const { b, specs } = buildGraph(plan, mbq.imageTokenOffset);
    try {
      out = await AtomicOutputDir.create(opts.outDir, { handleSignals: opts.handleSignals, offersOverwrite: false });
    } catch (e) {
      if (isConversionError(e)) throw new ImportError(e.code === 'WRITE' ? 'WRITE' : 'OUTPUT_PATH', e.message, opts.outDir);
      throw e;
    }
    const modelJsonOf = (topology: GraphDefJson, w: { paths: string[]; entries: WeightEntryJson[] }): string => JSON.stringify({
      format: 'graph-model', generatedBy: 'tfjs-mbq import', convertedBy: `tfjs-mbq import (${plan.architecture})`,
      modelTopology: topology, weightsManifest: [{ paths: w.paths, weights: w.entries }],
    } satisfies ModelJson);
    // With fuse, the unfused import goes to a scratch folder of the output first (same file system).
    const unfusedDir = opts.fuse ? join(out.tempDir, '.unfused') : out.tempDir;
    if (opts.fuse) await mkdir(unfusedDir);
    const unfused = await writeWeights(unfusedDir, b, specs, ckpt, dtype, shardBytes, opts.onProgress);
    let written: { paths: string[]; bytes: number } = unfused;
    let fused: FuseReport | undefined;
    if (opts.fuse) {
      await writeFile(join(unfusedDir, 'model.json'), modelJsonOf(b.graph(), unfused));
      const f = await writeFusedWeights(unfusedDir, out.tempDir, dtype, shardBytes);
      await rm(unfusedDir, { recursive: true, force: true });
      await out.writeFile('model.json', modelJsonOf(f.graph, f));
      written = f;
      fused = f.report;
    } else {
      await out.writeFile('model.json', modelJsonOf(b.graph(), unfused));
    }
    await out.writeFile('mbq.json', JSON.stringify(mbq, null, 2) + '\n');
    // The bytes that were read and checked, not the files again (they may have changed since).
    for (const f of files.present) await out.writeFile(f, files.bytes.get(f)!);
    await out.commit();
    return { outDir: out.outDir, architecture: plan.architecture, mbq, weights: specs.size, weightBytes: written.bytes, shards: written.paths.length, ...(fused ? { fused } : {}) };
  } catch (e) {
    await out?.abort();
    throw e;
  } finally {
    await ckpt.close();
  }
}
