/**
 * Stage search (docs/algorithm.md §4): block by block on cached inputs, each scale group's
 * per-channel scale searched and folded into the model before the next group; with --distort the
 * next block reads this block's output with its weights quantized. Returns one record per group
 * (quantization.json's `groups`, a search file's `groups`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConversionError } from '../io/errors.js';
import type { WorkDir } from '../io/work_dir.js';
import { checkBlockRecords } from '../io/search_file.js';
import type { GraphAnalysis, BlockInfo } from '../graph/analysis.js';
import { applyGroupScale, linearWeightNK } from '../graph/fold.js';
import { gatherValid } from '../calib/batch.js';
import { searchGroupScale, quantizeWeight, weightQuantizer } from '../search/index.js';
import type { LinearOverride, QuantConfig, ScaleGroup, ScaleSearchResult } from '../search/types.js';
import type { SensitivityResult } from '../sensitivity/index.js';
import type { GroupRecord } from '../emit/quantization_json.js';
import type { CalibRun } from './calib_run.js';
import { overridesFor } from './overrides.js';
import type { Progress } from './progress.js';

export interface SearchStageOptions {
  config: QuantConfig;
  sensitivity: SensitivityResult | null;
  /** Finished blocks of an earlier run are re-applied from here, the others saved to it. */
  work?: WorkDir;
  /** The linears that get quantized (with --distort, only these are quantized in the next block's input). */
  selected: ReadonlySet<string>;
  /** Called with the weights a block's folds changed once the block is done (they may go to scratch). */
  blockDone: (folded: string[]) => void;
}

export async function searchStage(run: CalibRun, analysis: GraphAnalysis, o: SearchStageOptions, progress: Progress): Promise<GroupRecord[]> {
  const { config, sensitivity, work, selected } = o;
  const { exec, state, validRows, batch } = run;
  const first = analysis.blocks[0];
  const sideNames = [...new Set(analysis.blocks.flatMap((b) => b.sideInputs))];
  // Every long-lived tensor of this stage, so that an exception anywhere still frees it
  // (disposing an already disposed tensor is a no-op).
  const held: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => { held.push(t); return t; };
  try {
    // Consts an earlier pass cached (none after the streamed sensitivity) go: the search loads one block at a time.
    exec.releaseConsts();
    const pre = exec.execute(run.feeds, [first.input, ...sideNames], { streamConsts: true }).map(keep);
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
      const saved = await work?.block(block.index, (records, bad) => checkBlockRecords(records, block, analysis, bad));
      const blockFeeds = new Map<string, tf.Tensor>([[block.input, x], ...side]);
      const outputs = saved ? [] : [...new Set(block.groups.flatMap((g) => [g.input, g.outputLinear]))];
      const cached = exec.execute(blockFeeds, [block.output, ...outputs]).map(keep);
      const floatOut = cached[0];
      const at = new Map(outputs.map((n, i) => [n, cached[i + 1]]));
      const blockRecords: GroupRecord[] = [];
      const folded: string[] = [];
      for (const [g, group] of block.groups.entries()) {
        let record: GroupRecord;
        const keptFloat = group.linears.every((id) => !selected.has(id));
        if (saved) {
          record = saved[g];
          if (record.fold !== group.fold.kind) {
            throw new ConversionError('OPTION', `--work-dir ${work!.dir}: block ${block.index}'s saved group ${group.name} folds as "${record.fold}"; this model folds it as "${group.fold.kind}"; use a new work directory`);
          }
        } else if (keptFloat) {
          // --include/--exclude keep every linear of the group float: there is nothing to search for (s = 1).
          const K = analysis.linears.get(group.linears[0])!.K;
          record = groupRecord(block, group.name, group.linears.map((id) => analysis.linears.get(id)!.label), group.fold.kind, 1,
            { group: group.name, scales: new Float32Array(K).fill(1), alpha: 0, lossBefore: 0, lossAfter: 0, lossCurve: [] });
        } else {
          const ratio = sensitivity ? (group.name.startsWith('attn') ? sensitivity.clampedAttn : sensitivity.clampedMlp)[block.index] : 1;
          const res = await searchOnCache(run, analysis, group, at, side, { visionMask, captionMask, ratio }, config);
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
      if (config.distort) {
        const ovs = new Map<string, LinearOverride>();
        for (const id of [block.q, block.k, block.v, block.o, block.gate, block.up, block.down].filter((i) => selected.has(i))) {
          const l = analysis.linears.get(id)!;
          const w = tf.tensor2d(linearWeightNK(state.weights, l), [l.N, l.K]);
          ovs.set(id, { weight: keep(quantizeWeight(w, quantizer, l.label)), actBits: config.aBits });
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
      // weights may go to scratch on disk (read back for the fold check, quantization and evaluation).
      exec.releaseConsts();
      o.blockDone(folded);
    }
    return records;
  } finally {
    tf.dispose(held);
  }
}

async function searchOnCache(
  run: CalibRun, analysis: GraphAnalysis, group: BlockInfo['groups'][number],
  at: ReadonlyMap<string, tf.Tensor>, side: ReadonlyMap<string, tf.Tensor>,
  weighting: { visionMask: tf.Tensor1D; captionMask: tf.Tensor1D; ratio: number }, config: QuantConfig,
): Promise<ScaleSearchResult> {
  const { exec, state, validRows } = run;
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

function groupRecord(block: BlockInfo, name: GroupRecord['group'], labels: string[], fold: string, ratio: number, r: ScaleSearchResult): GroupRecord {
  return {
    block: block.index, group: name, linears: labels, fold, ratio, alpha: r.alpha,
    lossBefore: r.lossBefore, lossAfter: r.lossAfter, lossKind: r.lossKind ?? null,
    modalityMse: r.modalityMse ?? null, lossCurve: r.lossCurve,
    scales: Array.from(r.scales),
  };
}
