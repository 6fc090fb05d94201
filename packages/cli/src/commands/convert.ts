/** `tfjs-mbq convert <modelDir> --calib <dir> --out <dir>`: MBQ / AWQ / RTN / SmoothQuant quantization. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { isConversionError, type QuantizationJson } from '@tfjs-mbq/converter';
import { isImportError } from '@tfjs-mbq/importer';
import { BACKEND_NAMES, type BackendName } from '@tfjs-mbq/ops/backends';
import { formatBytes, progressBars, table } from '../ui/progress.js';
import { printable, printableLines, terminalJson } from '../ui/terminal_text.js';
import { backendLine } from '../ui/backend_line.js';
import { convertInWorker, ReportedError } from '../worker/supervise.js';
import { checkConvert, runConvert, type ConvertArgs, type ConvertOutcome, type ConvertReporter } from './convert_run.js';

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(4);
}

/** "2.8 MiB -> 0.9 MiB (0.31x)" of a quantization.json that records sizes; undefined for older ones. */
export function sizeLine(q: Pick<QuantizationJson, 'size'>): string | undefined {
  if (!q.size) return undefined;
  const { inputWeightBytes: a, outputWeightBytes: b } = q.size;
  return `${formatBytes(a)} -> ${formatBytes(b)} (${(b / a).toFixed(2)}x)`;
}

/** True when --include/--exclude keep all the group's linears float: it was not searched. */
function keptFloat(q: QuantizationJson, g: QuantizationJson['groups'][number]): boolean {
  const kept = new Set(q.keptFloat ?? []);
  return g.linears.length > 0 && g.linears.every((l) => kept.has(l));
}

function groupName(q: QuantizationJson, g: QuantizationJson['groups'][number]): string {
  return keptFloat(q, g) ? `${g.group} (kept float)` : g.group;
}

export function summary(q: QuantizationJson): string {
  // Round-to-nearest searches nothing: its table is the quantization error of each group.
  const groups = q.method === 'rtn' ? table(
    ['block', 'group', 'output MSE'],
    q.groups.map((g) => [g.block, groupName(q, g), keptFloat(q, g) ? '-' : fmt(g.lossBefore)]),
  ) : table(
    ['block', 'group', 'ratio', 'alpha', 'loss s=1', 'loss chosen', 'reduction'],
    q.groups.map((g) => keptFloat(q, g) ? [g.block, groupName(q, g), '-', '-', '-', '-', '-'] : [g.block, groupName(q, g), q.sensitivity ? fmt(g.ratio) : '-', g.alpha.toFixed(2), fmt(g.lossBefore), fmt(g.lossAfter),
      `${(g.lossBefore > 0 ? (1 - g.lossAfter / g.lossBefore) * 100 : 0).toFixed(1)}%`]),
  );
  const e = q.evaluation;
  const bits = q.aBits ? `W${q.wBits}A${q.aBits}` : `W${q.wBits} group ${q.groupSize}`;
  const size = sizeLine(q);
  const kept = q.keptFloat?.length ? `; kept float by --include/--exclude: ${q.keptFloat.length} (${q.keptFloat.slice(0, 4).join(', ')}${q.keptFloat.length > 4 ? ', ...' : ''})` : '';
  return [
    `${q.method} ${bits}, ${q.linears.length} linears in ${q.blocks} blocks${kept}, ${q.calibration.samples} calibration samples`,
    ...(size ? [`weights ${size}`] : []),
    '',
    groups,
    '',
    table(['calibration check', 'float', 'quantized'], [
      ['caption cross-entropy', fmt(e.captionLossFloat), fmt(e.captionLossQuantized)],
      ['top-1 agreement (caption positions)', '100.0%', `${(e.top1AgreementCaption * 100).toFixed(1)}%`],
    ]),
  ].join('\n');
}

/**
 * The command; with `worker` (a module that runs convertWorker() off the main thread: the CLI's
 * bin) the import and conversion run in a worker thread, so that SIGINT/SIGTERM end them at once
 * (worker/supervise.ts); without it, in this thread (main() called in-process, as tests do).
 */
export const convertCommand = (worker?: URL): CommandModule<object, ConvertArgs> => ({
  command: 'convert <modelDir>',
  describe: 'Quantize a tfjs graph-model VLM with MBQ (or AWQ, RTN, SmoothQuant)',
  builder: (y: Argv) => y
    .positional('modelDir', { type: 'string', demandOption: true, describe: 'tfjs graph model directory (model.json, config.json, tokenizer.json, mbq.json), or a Hugging Face checkpoint directory (imported first, as `tfjs-mbq import` does)' })
    .option('calib', { type: 'string', demandOption: true, describe: 'calibration directory (manifest.jsonl + images)' })
    .option('out', { type: 'string', demandOption: true, describe: 'output directory (written atomically; never inside the input; an existing non-empty one needs --overwrite)' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'write into an existing non-empty --out: replace the files a conversion writes there, keep every other file' })
    .option('method', { choices: ['rtn', 'awq', 'mbq', 'smoothquant'] as const, default: 'mbq' as const, describe: 'quantization method' })
    // No yargs default: the converter's (3) applies, and its messages can tell a default from a choice.
    .option('w-bits', { type: 'number', describe: 'weight bits (2..8) [default: 3]' })
    .option('a-bits', { type: 'number', describe: 'activation bits: weight-activation quantization (e.g. --w-bits 4 --a-bits 8)' })
    .option('group-size', { type: 'number', describe: 'weights per (scale, zero) group along K [default: largest of 128/64/32 dividing every K]' })
    // No yargs default: --loss given with another method than mbq is refused, the default is not.
    .option('loss', { choices: ['mae', 'mse'] as const, describe: "MBQ's modality-weighted reconstruction loss, --method mbq only (awq always uses the uniform MSE) [default: mae]" })
    .option('scale-family', { choices: ['awq', 'smoothquant'] as const, default: 'awq' as const, describe: 'candidate scales of the awq/mbq alpha search: awq = mean|X|^alpha (the reference); smoothquant = max|X|^alpha / max|W|^(1-alpha) (the SmoothQuant formula, alpha searched)' })
    .option('distort', { type: 'boolean', default: false, describe: 'feed each block the output of the already-quantized previous block' })
    .option('rotate', { type: 'boolean', default: false, describe: 'Hadamard-rotate the residual stream and down_proj input before the search' })
    .option('samples', { type: 'number', describe: 'calibration samples to use, chosen by --seed [default: 32, or all if fewer; the paper uses 128]' })
    .option('seed', { type: 'number', default: 0, describe: 'seed of the sample selection (and rotation signs)' })
    .option('backend', { choices: BACKEND_NAMES, default: 'auto' as BackendName, describe: 'tfjs backend' })
    .option('emit', { choices: ['quantized', 'float'] as const, default: 'quantized' as const, describe: 'quantized: MbqQuantizedMatMul nodes with packed weights (needs @tfjs-mbq/ops); float: plain graph, dequantized weights' })
    .option('fuse', { type: 'boolean', default: true, describe: "write the decoder's RMSNorm (with the residual add before it), RoPE + attention, SiLU gate and q/k/v, gate/up linears as fused @tfjs-mbq/ops ops (fewer ops per token); --no-fuse: plain tfjs ops" })
    .option('include', { type: 'string', array: true, describe: 'quantize only the decoder-block linears matching these glob patterns (`*`, `?`; labels as `tfjs-mbq inspect` shows them, e.g. \'layers.*.mlp.*\' or \'*.q_proj\', or node names)' })
    .option('exclude', { type: 'string', array: true, describe: 'keep the decoder-block linears matching these glob patterns float (e.g. \'layers.0.*\' \'*.down_proj\'); vision tower, projector and lm_head always stay float' })
    .option('weight-shard-size-bytes', { type: 'number', describe: 'largest weight shard file of the output [default: 4194304, as tensorflowjs_converter]' })
    .option('image-size', { type: 'string', describe: 'a Hugging Face Qwen2-VL checkpoint: the resized image HxW its graph is built for, as `tfjs-mbq import --image-size`' })
    .option('max-positions', { type: 'number', describe: 'a Hugging Face checkpoint: the most positions its graph covers, as `tfjs-mbq import --max-positions`' })
    .option('work-dir', { type: 'string', describe: 'keep the sensitivity and each finished block\'s search results here; run the same command again to continue after the last finished block (same output as an uninterrupted run)' })
    .option('save-search', { type: 'string', describe: 'write the search result (sensitivity and every group\'s scales, with the inputs they depend on) to this file when the search finishes' })
    .option('apply-search', { type: 'string', describe: 'apply the search result of a --save-search file instead of searching (same model, calibration and options; same output as the run that searched)' })
    .option('json', { type: 'boolean', default: false, describe: 'print quantization.json to stdout instead of the summary' })
    .option('progress', { type: 'boolean', default: true, describe: 'progress bars on stderr (--no-progress to silence)' })
    .example('$0 convert fixtures/tiny-vlm --calib fixtures/shapes-vqa/calib --out out/tiny-vlm-mbq-w3', 'MBQ, 3-bit weights (the defaults)')
    .example('$0 convert fixtures/tiny-vlm --calib fixtures/shapes-vqa/calib --out out/awq-w4 --method awq --w-bits 4', 'AWQ baseline, 4-bit weights')
    .example('$0 convert fixtures/tiny-vlm --calib fixtures/shapes-vqa/calib --out out/w4a8 --w-bits 4 --a-bits 8', 'MBQ weight-activation W4A8')
    .example('$0 convert fixtures/tiny-vlm --calib fixtures/shapes-vqa/calib --out out/w4a8-sq --w-bits 4 --a-bits 8 --scale-family smoothquant', 'MBQ W4A8 searching alpha of SmoothQuant-style scales')
    .example('$0 convert fixtures/tiny-vlm --calib fixtures/shapes-vqa/calib --out out/float --emit float --json', 'plain float graph, machine-readable result')
    .example('$0 convert big-vlm --calib calib --out out/big-w3 --backend webgpu --work-dir work/big-w3', 'resumable: interrupted, the same command continues after the last finished block')
    .example('$0 convert fixtures/tiny-vlm --calib fixtures/shapes-vqa/calib --out out/a --save-search search.json', 'keep the search result; `--apply-search search.json --emit float` later writes another output without searching') as unknown as Argv<ConvertArgs>,
  handler: async (argv: ArgumentsCamelCase<ConvertArgs>) => {
    const bars = progressBars(process.stderr, argv.progress);
    const t0 = Date.now();
    const report: ConvertReporter = {
      backend: (b) => { if (argv.progress || argv.verbose) process.stderr.write(`${printable(backendLine(b, argv.verbose))}\n`); },
      progress: (stage, done, total, detail) => bars.update(stage, done, total, detail),
    };
    let result: ConvertOutcome;
    try {
      // Options, their combinations and the output directory are checked before a backend starts.
      const checked = await checkConvert(argv);
      result = worker ? await convertInWorker(worker, checked, report) : await runConvert(checked, report, true);
    } catch (e) {
      // Bad input is reported, not thrown: one line naming the file and the problem, exit code 1.
      if (!isConversionError(e) && !isImportError(e) && !(e instanceof ReportedError)) throw e;
      bars.end();
      process.stderr.write(`\ntfjs-mbq convert: ${printable(e.message)}\n`);
      process.exitCode = 1;
      return;
    }
    bars.end();
    if (argv.json) {
      process.stdout.write(terminalJson({ outDir: result.outDir, seconds: (Date.now() - t0) / 1000, quantization: result.quantization }) + '\n');
    } else {
      process.stdout.write(`${printableLines(summary(result.quantization))}\n\nwrote ${printable(result.outDir)} in ${((Date.now() - t0) / 1000).toFixed(1)}s (model.json, quantization.json, report.html)\n`);
    }
  },
});
