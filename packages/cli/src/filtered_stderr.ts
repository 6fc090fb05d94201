/**
 * The CLI's command runs in a child process whose file descriptor 2 (where native code such as
 * Dawn prints) is a pipe read through DawnWarningFilter; ui/dawn_warnings.ts says why this cannot
 * be done in-process. The child's own `process.stderr` writes straight to the parent's stderr
 * (passed as fd 3), so progress bars see the real terminal and stay in order with stdout. stdin and
 * stdout are the child's own, signals sent to the parent reach the child (which cleans up as it
 * would alone), and the parent ends as the child did: its exit code, or the signal that ended it.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { isatty, WriteStream } from 'node:tty';
import { DawnWarningFilter } from './ui/dawn_warnings.js';
import { HANDLED_SIGNALS } from './signals.js';

/** Set in the child: the descriptor of the parent's stderr. */
const CHILD_ENV = 'TFJS_MBQ_STDERR_FD';

/** Synchronous writes to a file or pipe, as Node's own stderr makes them (nothing is lost at exit). */
class SyncFdStream extends Writable {
  constructor(private readonly fd: number) { super(); }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    try {
      for (let at = 0; at < chunk.length;) {
        try { at += writeSync(this.fd, chunk, at); }
        catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e; }
      }
      done();
    } catch (e) {
      done(e as Error);
    }
  }
}

/** In the filtered child: makes `process.stderr` the parent's stderr and returns true; elsewhere false. */
export function adoptParentStderr(): boolean {
  const fd = Number(process.env[CHILD_ENV]);
  if (!Number.isInteger(fd) || fd < 3) return false;
  const stream = isatty(fd) ? new WriteStream(fd) : new SyncFdStream(fd);
  Object.defineProperty(process, 'stderr', { value: stream, configurable: true, writable: true });
  return true;
}

/** Dawn can only print when the optional `webgpu` package is installed: otherwise there is nothing to filter. */
export function dawnInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('webgpu');
    return true;
  } catch {
    return false;
  }
}

/** Runs `script args` with node as the filtered child and ends this process the way the child ended. */
export function runFilteredChild(script: string, args: readonly string[]): void {
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
    stdio: ['inherit', 'inherit', 'pipe', 2],
    env: { ...process.env, [CHILD_ENV]: '3' },
  });
  const relay = (signal: NodeJS.Signals): void => { child.kill(signal); };
  for (const s of HANDLED_SIGNALS) process.on(s, relay);
  const filter = new DawnWarningFilter();
  const decoder = new StringDecoder('utf8');
  child.stderr!.on('data', (d: Buffer) => { process.stderr.write(filter.push(decoder.write(d))); });
  child.on('error', (e) => {
    process.stderr.write(`tfjs-mbq: could not start the command: ${e.message}\n`);
    process.exitCode = 1;
  });
  // 'close' comes after the child's fd 2 has ended, so nothing native code wrote is lost.
  child.on('close', (code, signal) => {
    process.stderr.write(filter.push(decoder.end()) + filter.end());
    for (const s of HANDLED_SIGNALS) process.off(s, relay);
    if (signal) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
}
