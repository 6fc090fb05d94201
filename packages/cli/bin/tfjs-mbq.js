#!/usr/bin/env node
// The `tfjs-mbq` command. A committed file rather than dist/bin.js: npm links a package's bin when
// it installs it, and in a fresh clone `npm ci` runs before `npm run build` makes dist/, so a bin
// pointing into dist/ would never be linked (node_modules/.bin/tfjs-mbq missing).
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write('tfjs-mbq: not built yet: run `npm run build` in the repository first (makes packages/cli/dist)\n');
  process.exit(1);
}
await import(built.href);
