/**
 * The cleanup observer (@tfjs-mbq/converter's CleanupObserver) of a conversion in a worker thread,
 * kept in shared memory: the main thread reads it after ending the worker mid-statement (issue
 * 15 §3), when no message could still arrive. Layout: an Int32 header [state, slot in use, length
 * of slot 0, length of slot 1], then two slots of JSON. A write fills the slot not in use and then
 * switches to it, so a worker ended between two stores leaves the previous whole record readable.
 */
import type { CleanupObserver } from '@tfjs-mbq/converter';

/** Header words. */
const STATE = 0;
const SLOT = 1;
/** States: converting; moving the output into place (not to be ended); being ended by the main thread. */
const RUNNING = 0;
const COMMITTING = 1;
const STOPPING = 2;
const HEADER_BYTES = 16;
const SLOT_BYTES = 1 << 16;

export interface CleanupRecord {
  /** Directories an interruption removes, with the output each stages (scratch directories stage none). */
  staged: Array<{ dir: string; outDir?: string }>;
  /** Outputs moved into place, complete. */
  committed: string[];
}

export class CleanupJournal implements CleanupObserver {
  private readonly header: Int32Array;
  /** The worker's copy of what it publishes. */
  private readonly record: CleanupRecord = { staged: [], committed: [] };

  constructor(readonly buffer = new SharedArrayBuffer(HEADER_BYTES + 2 * SLOT_BYTES)) {
    this.header = new Int32Array(buffer, 0, HEADER_BYTES / 4);
  }

  // The worker's side.
  staged(dir: string, outDir?: string): void {
    this.record.staged.push(outDir === undefined ? { dir } : { dir, outDir });
    this.publish();
  }

  unstaged(dir: string): void {
    this.record.staged = this.record.staged.filter((s) => s.dir !== dir);
    this.publish();
  }

  enterCommit(): boolean {
    return Atomics.compareExchange(this.header, STATE, RUNNING, COMMITTING) === RUNNING;
  }

  leaveCommit(outDir: string, committed: boolean): void {
    if (committed) this.record.committed.push(outDir);
    this.publish();
    Atomics.compareExchange(this.header, STATE, COMMITTING, RUNNING);
  }

  private publish(): void {
    const slot = 1 - Atomics.load(this.header, SLOT);
    const bytes = new TextEncoder().encode(JSON.stringify(this.record));
    // Paths only: a record this long means something else went wrong; the interruption would miss it.
    if (bytes.length > SLOT_BYTES) throw new Error(`cleanup journal: ${bytes.length} bytes of staged paths, more than ${SLOT_BYTES}`);
    new Uint8Array(this.buffer, HEADER_BYTES + slot * SLOT_BYTES, bytes.length).set(bytes);
    Atomics.store(this.header, 2 + slot, bytes.length);
    Atomics.store(this.header, SLOT, slot);
  }

  // The main thread's side.
  /** Claims the ending of the worker: true when it may be ended now, false while a commit is under way (ask again). */
  claimStop(): boolean {
    const was = Atomics.compareExchange(this.header, STATE, RUNNING, STOPPING);
    return was === RUNNING || was === STOPPING;
  }

  /** The last whole record the worker published. */
  read(): CleanupRecord {
    const slot = Atomics.load(this.header, SLOT);
    const length = Atomics.load(this.header, 2 + slot);
    if (length === 0) return { staged: [], committed: [] };
    // Copied out of shared memory: TextDecoder does not read shared buffers.
    const text = new TextDecoder().decode(new Uint8Array(this.buffer, HEADER_BYTES + slot * SLOT_BYTES, length).slice());
    return JSON.parse(text) as CleanupRecord;
  }
}
