/**
 * The work of `tfjs-mbq convert`, apart from what it prints: checking the arguments, and running
 * the import (of a Hugging Face checkpoint) and the conversion. The command runs it in a worker
 * thread (worker/convert_worker.ts) when started as the `tfjs-mbq` process, so that a signal ends
 * it at once, or in this thread when main() is called in-process. Bad input throws a
 * ConversionError or ImportError (printed as one line by the command).
 */
import { mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { checkConvertOptions, convert, makeStagedDirSync, removeStagedDir, type ConvertOptions, type QuantizationJson } from '@tfjs-mbq/converter';
import { ImportError, importCheckpoint, isHfCheckpointDir, maxPositionsProblem } from '@tfjs-mbq/importer';
import { initBackend, type BackendName, type BackendReport } from '@tfjs-mbq/ops/backends';
import { parseImageSize } from './import.js';

export interface ConvertArgs {
  modelDir: string;
  calib: string;
  out: string;
  overwrite: boolean;
  method: 'rtn' | 'awq' | 'mbq' | 'smoothquant';
  wBits?: number;
  aBits?: number;
  groupSize?: number;
  loss?: 'mae' | 'mse';
  scaleFamily: 'awq' | 'smoothquant';
  distort: boolean;
  rotate: boolean;
  samples?: number;
  seed: number;
  backend: BackendName;
  emit: 'quantized' | 'float';
  fuse: boolean;
  json: boolean;
  progress: boolean;
  workDir?: string;
  imageSize?: string;
  maxPositions?: number;
  include?: string[];
  exclude?: string[];
  weightShardSizeBytes?: number;
  saveSearch?: string;
  applySearch?: string;
  verbose: boolean;
}

/** The checked arguments (plain data: it crosses to the worker thread). */
export interface CheckedConvert {
  options: Omit<ConvertOptions, 'onProgress' | 'outputFs'>;
  hf: boolean;
  imageSize?: [number, number];
  backend: BackendName;
  maxPositions?: number;
}

/** What the run tells its caller as it goes. */
export interface ConvertReporter {
  backend(report: Pick<BackendReport, 'backend' | 'detail'>): void;
  progress(stage: string, done: number, total: number, detail?: string): void;
}

export interface ConvertOutcome {
  outDir: string;
  quantization: QuantizationJson;
}

/** Options, their combinations and the output directory, checked before a backend starts. */
export async function checkConvert(argv: ConvertArgs): Promise<CheckedConvert> {
  const options: CheckedConvert['options'] = {
    modelDir: argv.modelDir, calibDir: argv.calib, outDir: argv.out, overwrite: argv.overwrite, method: argv.method, wBits: argv.wBits,
    aBits: argv.aBits, groupSize: argv.groupSize, loss: argv.loss, scaleFamily: argv.scaleFamily, distort: argv.distort, rotate: argv.rotate,
    samples: argv.samples, seed: argv.seed, emit: argv.emit, fuse: argv.fuse, workDir: argv.workDir,
    include: argv.include?.map(String), exclude: argv.exclude?.map(String), weightShardSizeBytes: argv.weightShardSizeBytes,
    saveSearch: argv.saveSearch, applySearch: argv.applySearch,
  };
  await checkConvertOptions(options);
  const hf = await isHfCheckpointDir(argv.modelDir);
  let imageSize: [number, number] | undefined;
  try {
    imageSize = parseImageSize(argv.imageSize);
  } catch (e) {
    throw new ImportError('OPTION', (e as Error).message);
  }
  const positionsProblem = maxPositionsProblem(argv.maxPositions);
  if (positionsProblem) throw new ImportError('OPTION', positionsProblem);
  if (!hf && (argv.imageSize !== undefined || argv.maxPositions !== undefined)) {
    throw new ImportError('OPTION', `${argv.imageSize !== undefined ? '--image-size' : '--max-positions'} applies to a Hugging Face checkpoint directory; ${argv.modelDir} is not one`);
  }
  return { options, hf, imageSize, backend: argv.backend, maxPositions: argv.maxPositions };
}

/**
 * Test hook (issue 15 §3): with MBQ_TEST_BLOCK_MS=n the first progress event of stage
 * MBQ_TEST_BLOCK_STAGE (default search) spins synchronously for n ms, as one long chunk of compute
 * would, so a test can signal a conversion that cannot reach a signal handler. Unset (always,
 * outside tests) it does nothing.
 */
function blockForTest(): (stage: string) => void {
  const ms = Number(process.env.MBQ_TEST_BLOCK_MS ?? 0);
  const at = process.env.MBQ_TEST_BLOCK_STAGE || 'search';
  let blocked = !(ms > 0);
  return (stage) => {
    if (blocked || stage !== at) return;
    blocked = true;
    const end = Date.now() + ms;
    while (Date.now() < end) { /* one synchronous chunk */ }
  };
}

/**
 * Starts the backend, imports a Hugging Face checkpoint (float32, into a scratch directory beside
 * the output, removed afterwards) and converts. `handleSignals`: guard the output against
 * SIGINT/SIGTERM in this thread (in a worker thread signals are the main thread's concern).
 */
export async function runConvert(c: CheckedConvert, report: ConvertReporter, handleSignals: boolean): Promise<ConvertOutcome> {
  const block = blockForTest();
  const progress = (stage: string, done: number, total: number, detail?: string): void => {
    report.progress(stage, done, total, detail);
    block(stage);
  };
  const backend = await initBackend(c.backend);
  report.backend({ backend: backend.backend, detail: backend.detail });
  let scratch: string | undefined;
  try {
    let modelDir = c.options.modelDir;
    if (c.hf) {
      const out = resolve(c.options.outDir);
      mkdirSync(dirname(out), { recursive: true });
      scratch = makeStagedDirSync(dirname(out), `.${basename(out)}.import-`);
      modelDir = join(scratch, 'model');
      await importCheckpoint({
        hfDir: c.options.modelDir, outDir: modelDir, imageSize: c.imageSize, maxPositions: c.maxPositions, onProgress: (e) => progress('import', e.done, e.total, e.name),
      });
    }
    // After an import, messages and quantization.json name the checkpoint, not the scratch copy.
    const result = await convert({
      ...c.options, modelDir, backend: 'current', handleSignals, importedFrom: scratch ? c.options.modelDir : undefined,
      onProgress: (e) => progress(e.stage, e.done, e.total, e.detail),
    });
    return { outDir: result.outDir, quantization: result.quantization };
  } finally {
    if (scratch) await removeStagedDir(scratch);
  }
}
