#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { adoptParentStderr, dawnInstalled, runFilteredChild } from './filtered_stderr.js';
import { printable } from './ui/terminal_text.js';

const args = process.argv.slice(2);
// With Dawn installed the command runs in a child whose stderr is filtered (filtered_stderr.ts);
// the parent then loads nothing else.
if (!adoptParentStderr() && dawnInstalled()) runFilteredChild(fileURLToPath(import.meta.url), args);
else {
  import('./main.js').then(({ main }) => main(args)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`tfjs-mbq: ${printable(err instanceof Error ? err.message : String(err))}\n`);
      process.exitCode = 1;
    },
  );
}
