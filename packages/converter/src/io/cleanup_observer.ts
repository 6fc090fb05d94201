/**
 * What an interruption must undo, told to an observer as it changes (issue 15 §3). A signal handler
 * in the converting thread runs only between chunks of work, and one synchronous chunk (a large
 * matmul on cpu) can run for minutes. The CLI therefore converts in a worker thread and, on a
 * signal, ends the worker where it stands and removes what this observer was told of itself.
 *
 * Directories are announced before they are made, so one in the making is known too. A commit
 * (moving the finished output into place) is never ended half-way: it starts only if enterCommit()
 * agrees, and whoever interrupts waits for leaveCommit().
 */
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

export interface CleanupObserver {
  /** `dir` is about to be made and is ours to remove on interruption; `outDir`: the output it stages, if it does. */
  staged(dir: string, outDir?: string): void;
  /** `dir` is gone, committed, or was never made (the name was taken): no longer ours to remove. */
  unstaged(dir: string): void;
  /** A commit into `outDir` is about to start; false when an interruption has begun (then it does not start). */
  enterCommit(outDir: string): boolean;
  /** The commit that enterCommit allowed has ended; `committed`: the output is in place. */
  leaveCommit(outDir: string, committed: boolean): void;
}

let observer: CleanupObserver | undefined;

/** Sets (or with undefined clears) the observer of this thread's conversions. */
export function observeCleanup(o: CleanupObserver | undefined): void {
  observer = o;
}

export function cleanupObserver(): CleanupObserver | undefined {
  return observer;
}

/**
 * A new scratch directory `where/prefix<random>` (mode 0700, as mkdtemp), announced to the observer
 * before it is made. Synchronous: a thread ended between the mkdir and an announcement after it
 * would leave a directory nobody knows of.
 */
export function makeStagedDirSync(where: string, prefix: string): string {
  for (;;) {
    const dir = path.join(where, `${prefix}${randomBytes(6).toString('hex')}`);
    observer?.staged(dir);
    try {
      mkdirSync(dir, { mode: 0o700 });
      return dir;
    } catch (e) {
      observer?.unstaged(dir);
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Removes a directory made by makeStagedDirSync and tells the observer. */
export async function removeStagedDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  observer?.unstaged(dir);
}
