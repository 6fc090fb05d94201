/** One job of the results matrix, in its own process: convert (unless FP), evaluate, record. */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import '@tfjs-mbq/ops';
import { initBackend } from '@tfjs-mbq/ops/backends';
import { convert, type QuantizationJson } from '@tfjs-mbq/converter';
import { evaluate, loadEvalEngine, type EvalReport } from '@tfjs-mbq/eval';
import { CALIB_DIR, EVAL_DIR, jobCommands, type Job } from './matrix.js';

/** What the search chose for one scale group (seed's run), for the MBQ-vs-AWQ analysis. */
export interface GroupSummary {
  block: number;
  group: string;
  ratio: number;
  alpha: number;
  lossBefore: number;
  lossAfter: number;
  /** Mean squared output error [vision, caption] at s = 1 and at the chosen scale. */
  modalityMse: { before: [number, number]; after: [number, number] } | null;
}

export interface JobRecord {
  job: Job;
  commands: string[];
  backend: string;
  limit: number;
  convertSeconds: number;
  eval: Omit<EvalReport, 'predictions'>;
  groups: GroupSummary[];
  /** Caption loss on the calibration samples, float vs quantized (quantization.json). */
  calibCaptionLoss?: { float: number; quantized: number };
}

function groupSummaries(q: QuantizationJson): GroupSummary[] {
  return q.groups.map((g) => ({
    block: g.block, group: g.group, ratio: g.ratio, alpha: g.alpha, lossBefore: g.lossBefore, lossAfter: g.lossAfter,
    modalityMse: g.modalityMse ?? null,
  }));
}

/**
 * `model` is the model as named on the command line; `source` the model directory the job reads:
 * the same, or for an HF checkpoint its import (made once by `run`, docs in results.ts).
 */
export async function runJob(j: Job, outRoot: string, limit: number, keep: boolean, model: string, source: string): Promise<JobRecord> {
  const backend = await initBackend('wasm');
  let modelDir = source;
  let convertSeconds = 0;
  let q: QuantizationJson | undefined;
  const outDir = path.join(outRoot, 'models', j.id);
  if (j.kind !== 'fp') {
    await fs.rm(outDir, { recursive: true, force: true });
    const t0 = performance.now();
    const r = await convert({
      modelDir: source, calibDir: CALIB_DIR, outDir, method: j.method, wBits: j.wBits, aBits: j.aBits,
      rotate: j.rotate, seed: j.seed, ...(j.loss ? { loss: j.loss } : {}),
      ...(j.scaleFamily ? { scaleFamily: j.scaleFamily } : {}),
    });
    convertSeconds = (performance.now() - t0) / 1000;
    q = r.quantization;
    modelDir = outDir;
  }
  // The executor engine, as the recorded figures were measured (packages/eval/test shows both engines agree).
  const engine = await loadEvalEngine(modelDir, 'executor');
  const { predictions: _unused, ...report } = await evaluate(engine, EVAL_DIR, { limit, batchSize: 64 });
  engine.dispose();
  if (!keep && j.kind !== 'fp') await fs.rm(outDir, { recursive: true, force: true });
  return {
    job: j, commands: jobCommands(j, limit, model, source !== model), backend: backend.backend, limit, convertSeconds, eval: report,
    groups: q ? groupSummaries(q) : [],
    calibCaptionLoss: q ? { float: q.evaluation.captionLossFloat, quantized: q.evaluation.captionLossQuantized } : undefined,
  };
}
