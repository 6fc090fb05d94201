import { rmSync } from 'node:fs';
import { registerSignalCleanup } from '@tfjs-mbq/converter';
import { HANDLED_SIGNALS } from '../signals.js';

/**
 * Until the returned release is called, SIGINT/SIGTERM/SIGHUP remove `dir` (a scratch directory
 * this command made: bench's imported or fused float baseline, a model-sized copy), say so in one
 * line and end the process by the signal (exit status 128 + its number in a shell). Without it the
 * default handlers end the process at once and leave the copy in the temporary directory.
 */
export function removeOnSignal(dir: string, command: string): () => void {
  return registerSignalCleanup(HANDLED_SIGNALS, (signal) => {
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`\ntfjs-mbq ${command}: interrupted by ${signal}; removed its scratch directory ${dir}\n`);
  });
}
