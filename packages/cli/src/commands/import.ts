/** `tfjs-mbq import <hfDir> --out <dir>`: a Hugging Face checkpoint as the project's model directory. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { DEFAULT_SHARD_BYTES, SUPPORTED_ARCHITECTURES, importCheckpoint, isImportError } from '@tfjs-mbq/importer';
import { progressBars } from '../ui/progress.js';
import { printable } from '../ui/terminal_text.js';

interface ImportArgs {
  hfDir: string;
  out: string;
  dtype: 'float32' | 'float16';
  weightShardSizeBytes: number;
  imageSize?: string;
  maxPositions?: number;
  fuse: boolean;
  progress: boolean;
}

/** `--image-size HxW` -> [H, W]; undefined when absent. */
export function parseImageSize(v: string | undefined): [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)x(\d+)$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new Error(`--image-size must be HxW with positive integers (e.g. 448x448), got ${JSON.stringify(v)}`);
  return [Number(m[1]), Number(m[2])];
}

export const importCommand: CommandModule<object, ImportArgs> = {
  command: 'import <hfDir>',
  describe: `Import a Hugging Face checkpoint (safetensors; ${SUPPORTED_ARCHITECTURES.join(', ')}) as a tfjs graph-model directory`,
  builder: (y: Argv) => y
    .positional('hfDir', { type: 'string', demandOption: true, describe: 'checkpoint directory: config.json, model.safetensors (or an index + shards), tokenizer.json, tokenizer_config.json, processor settings' })
    .option('out', { type: 'string', demandOption: true, describe: 'output directory (written atomically; never inside the input; an existing non-empty one is refused)' })
    .option('dtype', { choices: ['float32', 'float16'] as const, default: 'float32' as const, describe: 'storage of the weights (float16: half the size, decoded to float32 on load; the converter reads float32)' })
    .option('weight-shard-size-bytes', { type: 'number', default: DEFAULT_SHARD_BYTES, describe: 'largest weight shard file' })
    .option('image-size', { type: 'string', describe: 'Qwen2-VL: the resized image HxW the graph is built for (a smart_resize output; default: the processor\'s size for a 448x448 image)' })
    .option('max-positions', { type: 'number', describe: 'most positions (prompt + answer tokens) the graph covers, at most 16384 [default: config.json\'s max_position_embeddings, or 4096 when it states more: the causal-mask table is positions² floats]' })
    .option('fuse', { type: 'boolean', default: true, describe: 'write the decoder in the fused ops convert writes (MbqRmsNorm, MbqAddRmsNorm, MbqSiluGate, MbqRopeAppendKv, MbqAttention; merged qkv and gate-up linears), so the float model runs like for like against a converted one; --no-fuse for the plain graph, which convert reads' })
    .option('progress', { type: 'boolean', default: true, describe: 'progress bar on stderr (--no-progress to silence)' })
    .example('$0 import fixtures/hf/llava-1.5-tiny --out out/llava-tiny', 'import a LLaVA-1.5 checkpoint (fused decoder ops)')
    .example('$0 import fixtures/hf/llava-1.5-tiny --out out/llava-plain --no-fuse', 'the plain graph, as convert reads it') as unknown as Argv<ImportArgs>,
  handler: async (argv: ArgumentsCamelCase<ImportArgs>) => {
    const bars = progressBars(process.stderr, argv.progress);
    const t0 = Date.now();
    let imageSize: [number, number] | undefined;
    try {
      imageSize = parseImageSize(argv.imageSize);
    } catch (e) {
      process.stderr.write(`tfjs-mbq import: ${printable((e as Error).message)}\n`);
      process.exitCode = 1;
      return;
    }
    try {
      const r = await importCheckpoint({
        hfDir: argv.hfDir, outDir: argv.out, dtype: argv.dtype, shardBytes: argv.weightShardSizeBytes, handleSignals: true, imageSize, maxPositions: argv.maxPositions, fuse: argv.fuse,
        onProgress: (e) => bars.update('import', e.done, e.total, e.name),
      });
      bars.end();
      process.stdout.write(`imported ${r.architecture}: ${r.weights} weights, ${(r.weightBytes / 2 ** 20).toFixed(2)} MiB in ${r.shards} shard(s) (${argv.dtype}); ` +
        `${r.mbq.imageTokenCount} image tokens at offset ${r.mbq.imageTokenOffset}\n` +
        (r.fused ? `fused: ${r.fused.attention} attention, ${r.fused.rmsNorm} RMSNorm (${r.fused.addRmsNorm} with the residual add), ${r.fused.siluGate} SiLU gate; ${r.fused.mergedLinears} linear groups merged; ${r.fused.nodesBefore} -> ${r.fused.nodesAfter} nodes\n` : '') +
        `wrote ${printable(r.outDir)} in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    } catch (e) {
      bars.end();
      if (!isImportError(e)) throw e;
      // Tensor names and paths come from the checkpoint and the user: printed escaped (issue 15 §6).
      process.stderr.write(`tfjs-mbq import: ${printable(e.message)}\n`);
      process.exitCode = 1;
    }
  },
};
