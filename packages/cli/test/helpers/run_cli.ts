/**
 * Runs the CLI's main() in this process (so tf.memory() and the registered kernels are the test's)
 * with stdout and stderr captured, restoring them and process.exitCode afterwards.
 */
import { main } from '../../src/main.js';

export interface CliRun { code: number; stdout: string; stderr: string }

export async function runCli(args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const errWrite = process.stderr.write;
  const outWrite = process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => { stderr += String(c); return true; }) as typeof process.stderr.write;
  process.stdout.write = ((c: string | Uint8Array) => { stdout += String(c); return true; }) as typeof process.stdout.write;
  const prev = process.exitCode;
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    process.stderr.write = errWrite;
    process.stdout.write = outWrite;
    process.exitCode = prev;
  }
}
