#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { adoptParentStderr, dawnInstalled, runFilteredChild } from './filtered_stderr.js';
import { printable } from './ui/terminal_text.js';

// This module is also the entry of the thread a conversion runs in (worker/supervise.ts): a bundle
// of the CLI is one file, so the worker can only start from the entry itself.
if (!isMainThread) {
  const { convertWorker } = await import('./worker/convert_worker.js');
  await convertWorker();
} else {
  const args = process.argv.slice(2);
  // With Dawn installed the command runs in a child whose stderr is filtered (filtered_stderr.ts);
  // the parent then loads nothing else.
  if (!adoptParentStderr() && dawnInstalled()) runFilteredChild(fileURLToPath(import.meta.url), args);
  else {
    import('./main.js').then(({ main }) => main(args, { convertWorker: new URL(import.meta.url) })).then(
      (code) => { process.exitCode = code; },
      (err: unknown) => {
        process.stderr.write(`tfjs-mbq: ${printable(err instanceof Error ? err.message : String(err))}\n`);
        process.exitCode = 1;
      },
    );
  }
}
