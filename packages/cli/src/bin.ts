#!/usr/bin/env node
import { isMainThread } from 'node:worker_threads';

// This module is also the entry of the thread a conversion runs in (worker/supervise.ts): a bundle
// of the CLI is one file, so the worker can only start from the entry itself.
if (isMainThread) {
  const { main } = await import('./main.js');
  const { printable } = await import('./ui/terminal_text.js');
  main(process.argv.slice(2), { convertWorker: new URL(import.meta.url) }).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`tfjs-mbq: ${printable(err instanceof Error ? err.message : String(err))}\n`);
      process.exitCode = 1;
    },
  );
} else {
  const { convertWorker } = await import('./worker/convert_worker.js');
  await convertWorker();
}
