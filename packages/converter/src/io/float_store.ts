/**
 * Float arrays a conversion keeps for a while and reads back one at a time (issue 12 §4): a
 * sensitivity chunk's block boundaries, the float reference logits of a pass-by-pass run. In memory,
 * or, once `useScratchFile` is called, in a scratch file (made as lazy_weights' spill file is,
 * removed by dispose); float32 bytes round-trip exactly, so results do not depend on where they are.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConversionError } from './errors.js';
import { cleanupObserver, makeStagedDirSync } from './cleanup_observer.js';

export class FloatStore {
  private readonly inMemory: Float32Array[] = [];
  private file: { dir: string; path: string; fd: number } | undefined;
  /** Float offset of array i in the file, and its length. */
  private readonly placed: { at: number; length: number }[] = [];

  /** `what`: how messages name the arrays ("block boundary", "float logits"). */
  constructor(private readonly what: string) {}

  /** Whether the arrays live in a scratch file (and its path). */
  get spillPath(): string | undefined { return this.file?.path; }

  get length(): number { return this.placed.length; }

  /** What is pushed from now on goes to a scratch file (call before the first push). */
  useScratchFile(): void {
    if (this.file) return;
    if (this.placed.length > 0) throw new Error(`FloatStore (${this.what}): useScratchFile after a push`);
    const dir = makeStagedDirSync(tmpdir(), 'tfjs-mbq-scratch-');
    const p = path.join(dir, 'floats.bin');
    this.file = { dir, path: p, fd: openSync(p, 'w+') };
  }

  /** Appends an array (the store keeps it when in memory: the caller must not change it). */
  push(data: Float32Array): void {
    const last = this.placed[this.placed.length - 1];
    const at = last ? last.at + last.length : 0;
    if (this.file) {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      let done = 0;
      while (done < bytes.byteLength) done += writeSync(this.file.fd, bytes, done, bytes.byteLength - done, at * 4 + done);
    } else {
      this.inMemory.push(data);
    }
    this.placed.push({ at, length: data.length });
  }

  /** Array i (a fresh array when it comes from the file). */
  get(i: number): Float32Array {
    if (!(i >= 0 && i < this.placed.length)) throw new Error(`FloatStore (${this.what}): no array ${i} (${this.placed.length} held)`);
    if (!this.file) return this.inMemory[i];
    const { at, length } = this.placed[i];
    const out = new Float32Array(length);
    const bytes = new Uint8Array(out.buffer);
    let done = 0;
    while (done < bytes.byteLength) {
      const n = readSync(this.file.fd, bytes, done, bytes.byteLength - done, at * 4 + done);
      if (n === 0) throw new ConversionError('BACKEND', `the scratch file ${this.file.path} shrank while the conversion ran (${this.what} ${i} could not be read back)`, this.file.path);
      done += n;
    }
    return out;
  }

  /** Drops the last array (its memory, or its place in the file, is free for the next push). */
  pop(): void {
    if (this.placed.pop() && !this.file) this.inMemory.pop();
  }

  /** Frees the arrays and removes the scratch file; a second call does nothing. */
  dispose(): void {
    this.inMemory.length = 0;
    this.placed.length = 0;
    if (!this.file) return;
    closeSync(this.file.fd);
    rmSync(this.file.dir, { recursive: true, force: true });
    cleanupObserver()?.unstaged(this.file.dir);
    this.file = undefined;
  }
}
