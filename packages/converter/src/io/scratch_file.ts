/**
 * A conversion's scratch file: in a staged directory of the system's temporary folder (so an
 * interrupted run's cleanup finds it), written and read at byte offsets synchronously, as the stages
 * read weights; removed by dispose. LazyWeightMap spills folded weights here, FloatStore its arrays.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { cleanupObserver, makeStagedDirSync } from './cleanup_observer.js';

export class ScratchFile {
  readonly path: string;
  private readonly dir: string;
  private fd: number | undefined;
  /** One past the last byte written. */
  private end = 0;

  /** A new file `name` in a new directory `<tmp>/<prefix>XXXXXX`. */
  constructor(prefix: string, name: string) {
    this.dir = makeStagedDirSync(tmpdir(), prefix);
    this.path = path.join(this.dir, name);
    this.fd = openSync(this.path, 'w+');
  }

  /** Bytes written so far (the offset the next append writes at). */
  get bytes(): number { return this.end; }

  /** Writes `bytes` at byte `at` (by default after everything written so far); returns `at`. */
  write(bytes: Uint8Array, at = this.end): number {
    const fd = this.open();
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done, at + done);
    this.end = Math.max(this.end, at + bytes.byteLength);
    return at;
  }

  /** Fills `into` from byte `at`; `shrank` gives the error when the file ends first (changed under us). */
  read(into: Uint8Array, at: number, shrank: () => Error): void {
    const fd = this.open();
    let done = 0;
    while (done < into.byteLength) {
      const n = readSync(fd, into, done, into.byteLength - done, at + done);
      if (n === 0) throw shrank();
      done += n;
    }
  }

  /** Closes and removes the file and its directory; a second call does nothing. */
  dispose(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.dir, { recursive: true, force: true });
    cleanupObserver()?.unstaged(this.dir);
  }

  private open(): number {
    if (this.fd === undefined) throw new Error(`ScratchFile ${this.path}: used after dispose`);
    return this.fd;
  }
}
