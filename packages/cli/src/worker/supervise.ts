/**
 * The main-thread side of `tfjs-mbq convert` in a worker thread (issue 15 §3). The main thread
 * only relays messages, so it answers a signal at once, however long the worker's current chunk
 * of compute runs: it ends the worker (Worker.terminate() stops running JavaScript), removes what
 * the worker's CleanupJournal lists (the temporary output, the import's scratch copy, spilled
 * weights), says so in one line and ends by the signal (exit status 130 / 143 / 129 in a shell).
 * A commit under way (the finished output being moved into place) is let finish first.
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CheckedConvert, ConvertOutcome, ConvertReporter } from '../commands/convert_run.js';
import { printable } from '../ui/terminal_text.js';
import { CleanupJournal, type CleanupRecord } from './cleanup_journal.js';
import type { WorkerInput, WorkerMessage } from './convert_worker.js';
import { registerSignalCleanup } from '@tfjs-mbq/converter';
import { HANDLED_SIGNALS } from '../signals.js';

/** Longest wait for the worker to stop before cleaning up regardless (one stuck in a system call ends with the process). */
const TERMINATE_WAIT_MS = 1000;
/** How often a signal that arrived during a commit asks again. */
const COMMIT_POLL_MS = 10;

/** Bad input the worker reported (one line, exit 1). */
export class ReportedError extends Error {
  override name = 'ReportedError';
}

/** Removes what the record lists; best effort (the process is ending). */
function removeStaged(record: CleanupRecord): void {
  for (const { dir } of record.staged) {
    try { rmSync(dir, { recursive: true, force: true, maxRetries: 2 }); } catch { /* best effort on the way out */ }
  }
}

/** The one line an interruption prints about the output. */
export function interruptedLine(signal: NodeJS.Signals, outDir: string, record: CleanupRecord): string {
  const out = resolve(outDir);
  const staging = record.staged.find((s) => s.outDir === out);
  const what = staging ? `removed the partial output ${staging.dir}, nothing was written to ${out}`
    : record.committed.includes(out) ? `the output ${out} was already complete and is kept`
    : `no partial output of ${out} was on disk, nothing left behind`;
  return `tfjs-mbq: interrupted by ${signal}; ${printable(what)}`;
}

/**
 * Runs the checked conversion in a worker thread started from `entry` (a module that calls
 * convertWorker() when it is not the main thread: the CLI's bin, also when bundled).
 */
export function convertInWorker(entry: URL, checked: CheckedConvert, report: ConvertReporter): Promise<ConvertOutcome> {
  const journal = new CleanupJournal();
  const input: WorkerInput = { checked, journal: journal.buffer };
  const worker = new Worker(entry, { workerData: input });
  let settled = false;
  /** A signal came: its cleanup ends the worker (after a commit under way), whatever the worker says meanwhile. */
  let interrupted = false;
  const busy = (): boolean => settled || interrupted;

  return new Promise<ConvertOutcome>((resolvePromise, reject) => {
    /** The signal's cleanup; io/signal_cleanup.ts then ends the process by the signal. */
    const stop = async (signal: NodeJS.Signals): Promise<void> => {
      interrupted = true;
      // Moving the finished output into place takes moments and is never left half-way.
      while (!journal.claimStop()) await new Promise((r) => setTimeout(r, COMMIT_POLL_MS));
      await Promise.race([worker.terminate(), new Promise((r) => setTimeout(r, TERMINATE_WAIT_MS).unref())]);
      const record = journal.read();
      removeStaged(record);
      process.stderr.write(`\n${interruptedLine(signal, checked.options.outDir, record)}\n`);
    };
    const unregister = registerSignalCleanup(HANDLED_SIGNALS, stop);
    const settle = (fn: () => void): void => {
      if (busy()) return;
      settled = true;
      unregister();
      // Nothing of the worker is needed any more; whatever it still holds must not keep the process alive.
      worker.unref();
      fn();
    };
    /** The worker failed without a message (an uncaught error, out of memory): remove its partial output, unless mid-commit. */
    const crashed = (err: Error): void => {
      if (busy()) return;
      if (journal.claimStop()) removeStaged(journal.read());
      settle(() => reject(err));
    };

    worker.on('message', (m: WorkerMessage) => {
      if (busy()) return;
      if (m.type === 'backend') report.backend(m.report);
      else if (m.type === 'progress') report.progress(m.stage, m.done, m.total, m.detail);
      else if (m.type === 'done') settle(() => resolvePromise(m.outcome));
      else settle(() => reject(m.reported ? new ReportedError(m.message) : new Error(m.message)));
    });
    worker.on('error', crashed);
    worker.on('exit', (code) => crashed(new Error(`the conversion thread ended (exit code ${code}) before it finished`)));
  });
}
