#!/usr/bin/env node
import { main } from './main.js';
import { printable } from './ui/terminal_text.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`tfjs-mbq: ${printable(err instanceof Error ? err.message : String(err))}\n`);
    process.exitCode = 1;
  },
);
