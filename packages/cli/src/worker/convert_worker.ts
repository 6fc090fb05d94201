/**
 * The worker-thread side of `tfjs-mbq convert` (issue 15 §3): runs the import and conversion that
 * worker/supervise.ts started, posting the backend, progress and outcome back. What an interruption
 * must remove is kept in the shared CleanupJournal, which the main thread reads after ending this
 * thread wherever it stands.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isConversionError, observeCleanup } from '@tfjs-mbq/converter';
import { isImportError } from '@tfjs-mbq/importer';
import type { BackendReport } from '@tfjs-mbq/ops/backends';
import { runConvert, type CheckedConvert, type ConvertOutcome } from '../commands/convert_run.js';
import { CleanupJournal } from './cleanup_journal.js';

export interface WorkerInput {
  checked: CheckedConvert;
  journal: SharedArrayBuffer;
}

export type WorkerMessage =
  | { type: 'backend'; report: Pick<BackendReport, 'backend' | 'detail'> }
  | { type: 'progress'; stage: string; done: number; total: number; detail?: string }
  | { type: 'done'; outcome: ConvertOutcome }
  /** reported: bad input (a ConversionError or ImportError: one line, exit 1); otherwise a failure of ours. */
  | { type: 'failed'; reported: boolean; message: string };

export async function convertWorker(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('convertWorker: not in a worker thread');
  const input = workerData as WorkerInput;
  const post = (m: WorkerMessage): void => port.postMessage(m);
  observeCleanup(new CleanupJournal(input.journal));
  try {
    const outcome = await runConvert(input.checked, {
      backend: (report) => post({ type: 'backend', report }),
      progress: (stage, done, total, detail) => post({ type: 'progress', stage, done, total, detail }),
    }, false);
    post({ type: 'done', outcome });
  } catch (e) {
    post({ type: 'failed', reported: isConversionError(e) || isImportError(e), message: e instanceof Error ? e.message : String(e) });
  }
}
