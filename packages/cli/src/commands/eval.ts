/** `tfjs-mbq eval <modelDir> --data <dir>`: answer accuracy (greedy, exact match) and caption perplexity. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import '@tfjs-mbq/ops';
import { BACKEND_NAMES, initBackend, type BackendName } from '@tfjs-mbq/ops/backends';
import {
  ENGINE_NAMES, compareWithReference, evaluate, formatEvalReport, formatReferenceComparison, loadEvalEngine, readReference, type EngineName,
} from '@tfjs-mbq/eval';
import { printableLines, terminalJson } from '../ui/terminal_text.js';
import { progressBars } from '../ui/progress.js';
import { backendLine } from '../ui/backend_line.js';

interface EvalArgs {
  modelDir: string;
  data: string;
  json: boolean;
  backend: BackendName;
  limit: number;
  batch: number;
  engine: EngineName;
  progress: boolean;
  verbose: boolean;
  reference?: string;
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval <modelDir>',
  describe: 'Evaluate a VLM model directory on a manifest (accuracy per question type, caption perplexity)',
  builder: (y: Argv<object>) =>
    y
      .positional('modelDir', { type: 'string', demandOption: true, describe: 'directory with model.json, mbq.json, tokenizer.json' })
      .option('data', { type: 'string', demandOption: true, describe: 'directory with manifest.jsonl and images' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
      .option('backend', { choices: BACKEND_NAMES as BackendName[], default: 'auto' as BackendName, describe: 'tfjs backend' })
      .option('limit', { type: 'number', default: 0, describe: 'evaluate only the first N questions and N captions (0 = all)' })
      .option('batch', { type: 'number', default: 64, describe: 'sequences per forward pass (executor engine)' })
      .option('engine', {
        choices: ENGINE_NAMES as EngineName[], default: 'runtime' as EngineName,
        describe: 'runtime: loadVlm of @tfjs-mbq/runtime, as apps answer (KV cache); executor: the converter\'s batched executor (faster on wasm)',
      })
      .option('progress', { type: 'boolean', default: true, describe: 'progress on stderr: model load (bytes), questions and captions with the accuracy so far (--no-progress to silence)' })
      .option('reference', {
        type: 'string',
        describe: 'JSON answers of another implementation ([{ image, question, prediction, margins }], e.g. fixtures/llava-shapes/eval_predictions.json): list the questions answered differently, with the reference\'s logit margin',
      }) as unknown as Argv<EvalArgs>,
  handler: async (args: ArgumentsCamelCase<EvalArgs>) => {
    const reference = args.reference === undefined ? undefined : await readReference(args.reference);
    const backend = await initBackend(args.backend);
    if (args.verbose) process.stderr.write(`${backendLine(backend, true)}\n`);
    const bars = progressBars(process.stderr, args.progress);
    const engine = await loadEvalEngine(args.modelDir, args.engine, {
      onProgress: (p) => { if (p.stage === 'weights') bars.update('load', p.loadedBytes, p.totalBytes, undefined, 'bytes'); },
    });
    bars.end();
    try {
      const { predictions, ...report } = await evaluate(engine, args.data, {
        limit: args.limit, batchSize: args.batch, keepPredictions: reference !== undefined,
        onProgress: (p) => bars.update(p.stage, p.done, p.total, p.stage === 'questions' ? `accuracy so far ${((100 * p.correct) / p.done).toFixed(1)}%` : undefined),
      });
      bars.end();
      const comparison = reference && compareWithReference(predictions ?? [], reference, args.reference!);
      if (args.json) {
        process.stdout.write(terminalJson({ model: args.modelDir, data: args.data, backend: backend.backend, engine: args.engine, ...report, ...(comparison ? { reference: comparison } : {}) }, 2) + '\n');
      } else {
        const text = `${args.modelDir} on ${args.data} (backend ${backend.backend}, engine ${args.engine})\n${formatEvalReport(report)}`;
        process.stdout.write(printableLines(comparison ? `${text}\n${formatReferenceComparison(comparison, report.accuracy)}` : text) + '\n');
      }
    } finally {
      engine.dispose();
    }
  },
};
