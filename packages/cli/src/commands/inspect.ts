/** `tfjs-mbq inspect <modelDir>`: what the converter sees in a model (and how it was quantized). */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadModelDir, analyseGraph, ConversionError, isConversionError, type QuantizationJson } from '@tfjs-mbq/converter';
import { formatBytes, table } from '../ui/progress.js';
import { sizeLine } from './convert.js';
import { FUSED_OPS, MAX_JSON_BYTES, MBQ_QUANTIZED_MATMUL_OP, SourceReadError, storedByteLength } from '@tfjs-mbq/format';
import { fileSource } from '@tfjs-mbq/format/node';
import { printable, terminalJson } from '../ui/terminal_text.js';

interface InspectArgs { modelDir: string; json: boolean }

export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <modelDir>',
  describe: 'Show the decoder blocks, linears, scale groups and fold targets found in a graph model',
  builder: (y: Argv) => y
    .positional('modelDir', { type: 'string', demandOption: true, describe: 'tfjs graph model directory' })
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' })
    .example('$0 inspect fixtures/tiny-vlm', 'analysis of the float fixture')
    .example('$0 inspect out/tiny-vlm-mbq-w3', 'a converted model, with its quantization settings') as unknown as Argv<InspectArgs>,
  handler: async (argv: ArgumentsCamelCase<InspectArgs>) => {
    try {
      await inspect(argv);
    } catch (e) {
      if (!isConversionError(e)) throw e;
      process.stderr.write(`tfjs-mbq inspect: ${printable(e.message)}\n`);
      process.exitCode = 1;
    }
  },
};

/**
 * The model directory's quantization.json, or undefined when there is none: read as the loader
 * reads model files (inside the directory, a regular file, bounded), as a FIFO there hung inspect
 * and a link to /dev/zero filled memory (issue 15 §3).
 */
async function readQuantizationJson(dir: string): Promise<Uint8Array | undefined> {
  try {
    return await fileSource(dir).read('quantization.json', MAX_JSON_BYTES);
  } catch (e) {
    if (!(e instanceof SourceReadError)) throw e;
    if (e.problem === 'not-found') return undefined;
    throw new ConversionError('MODEL_JSON_READ', e.message, e.where);
  }
}

/** The fields inspect prints, with their types: a quantization.json is a file we did not necessarily write. */
function isQuantizationSummary(q: unknown): q is QuantizationJson {
  const o = q as QuantizationJson | null;
  return typeof o?.method === 'string' && typeof o.wBits === 'number' && typeof o.calibration?.samples === 'number' &&
    typeof o.evaluation?.captionLossFloat === 'number' && typeof o.evaluation?.captionLossQuantized === 'number';
}

function isSize(s: unknown): s is QuantizationJson['size'] {
  const o = s as { inputWeightBytes?: unknown; outputWeightBytes?: unknown } | null | undefined;
  return typeof o?.inputWeightBytes === 'number' && typeof o.outputWeightBytes === 'number' && o.inputWeightBytes > 0;
}

async function inspect(argv: InspectArgs): Promise<void> {
  {
    const model = await loadModelDir(argv.modelDir, { requireSidecars: false });
    let quant: QuantizationJson | undefined;
    const bytes = await readQuantizationJson(model.dir);
    try {
      const parsed = bytes && JSON.parse(new TextDecoder().decode(bytes)) as unknown;
      if (isQuantizationSummary(parsed)) quant = parsed;
    } catch { /* not a converted model */ }
    const customOps = model.modelJson.modelTopology.node.filter((n) => n.op === MBQ_QUANTIZED_MATMUL_OP);
    const analysis = analyseGraph(model.modelJson.modelTopology, model.weights);
    const L = (id: string): string => {
      const l = analysis.linears.get(id)!;
      return `${l.label} [${l.K}x${l.N}]`;
    };
    const info = {
      dir: model.dir,
      nodes: model.modelJson.modelTopology.node.length,
      weights: model.weights.size,
      parameters: [...model.weights.values()].reduce((a, w) => a + w.data.length, 0),
      weightBytes: model.modelJson.weightsManifest.flatMap((g) => g.weights).reduce((a, w) => a + storedByteLength(w), 0),
      linears: analysis.linears.size,
      quantizedNodes: customOps.length,
      blocks: analysis.blocks.map((b) => ({
        index: b.index, input: b.input, output: b.output,
        groups: b.groups.map((g) => ({ name: g.name, linears: g.linears.map(L), fold: g.fold, compared: L(g.outputLinear) })),
        sideInputs: b.sideInputs,
      })),
      otherLinears: analysis.otherLinears.map(L),
      ops: analysis.opCounts,
      quantization: quant ? { method: quant.method, wBits: quant.wBits, aBits: quant.aBits, groupSize: quant.groupSize, scaleFamily: quant.scaleFamily ?? 'awq', samples: quant.calibration.samples, evaluation: quant.evaluation, size: quant.size ?? null, keptFloat: quant.keptFloat ?? [] } : null,
    };
    if (argv.json) { process.stdout.write(terminalJson(info, 2) + '\n'); return; }
    // Every string below comes from the model's files: P() escapes its control characters.
    const P = printable;
    const out: string[] = [];
    out.push(`${P(info.dir)}: ${info.nodes} nodes, ${info.weights} weights (${info.parameters} values, ${formatBytes(info.weightBytes)}), ${info.linears} linears with constant weights`);
    if (customOps.length) out.push(`${customOps.length} ${MBQ_QUANTIZED_MATMUL_OP} nodes (needs import '@tfjs-mbq/ops')`);
    const fused = FUSED_OPS.filter((op) => info.ops[op]).map((op) => `${op} ${info.ops[op]}`);
    if (fused.length) out.push(`fused decoder ops: ${fused.join(', ')} (needs import '@tfjs-mbq/ops'; decoder blocks are found in unfused graphs only)`);
    out.push('', `decoder blocks: ${analysis.blocks.length}`);
    out.push(table(['block', 'group', 'linears', 'fold into', 'output compared'], analysis.blocks.flatMap((b) => b.groups.map((g) => [
      b.index, g.name, g.linears.map((id) => P(analysis.linears.get(id)!.label.split('.').pop()!)).join(', '),
      P(g.fold.kind === 'gamma' ? `gamma ${g.fold.gammaConst}` : g.fold.kind === 'linear' ? `rows of ${analysis.linears.get(g.fold.linear)!.label}` : `inserted Mul on ${g.fold.tensor}`),
      P(analysis.linears.get(g.outputLinear)!.label),
    ]))));
    out.push('', `kept float: ${info.otherLinears.length} linears (${info.otherLinears.slice(0, 6).map(P).join(', ')}${info.otherLinears.length > 6 ? ', ...' : ''})`);
    out.push('', `ops: ${Object.entries(info.ops).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${P(k)} ${v}`).join(', ')}`);
    if (quant) {
      out.push('', P(`quantization: ${quant.method} W${quant.wBits}${quant.aBits ? `A${quant.aBits}` : ` group ${quant.groupSize}`}${quant.scaleFamily && quant.scaleFamily !== 'awq' ? `, ${quant.scaleFamily}-family scales` : ''}, ${quant.calibration.samples} calibration samples; `) +
        `caption loss ${quant.evaluation.captionLossFloat.toFixed(4)} (float) -> ${quant.evaluation.captionLossQuantized.toFixed(4)} (quantized)`);
      const size = isSize(quant.size) ? sizeLine(quant) : undefined;
      if (size) out.push(`weights ${size}`);
      if (Array.isArray(quant.keptFloat) && quant.keptFloat.length) out.push(P(`kept float by --include/--exclude: ${quant.keptFloat.join(', ')}`));
    }
    process.stdout.write(out.join('\n') + '\n');
  }
}
