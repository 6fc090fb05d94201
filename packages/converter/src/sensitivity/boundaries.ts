/**
 * The block boundaries of one sensitivity chunk (streamed.ts): block i's input [B, S, C] for every
 * block, kept from the forward pass until the backward pass reaches the block, (blocks + 1) · B·S·C
 * floats in all (33 × 16 × 600 × 4096 × 4 bytes ≈ 5.2 GB for a 16-sample chunk of LLaVA-1.5-7B).
 * Above a size they go to a scratch file (made as lazy_weights' spill file is, removed by dispose)
 * and are read back one at a time; float32 bytes round-trip exactly, so the results do not change.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConversionError } from '../io/errors.js';
import { cleanupObserver, makeStagedDirSync } from '../io/cleanup_observer.js';

export class BoundaryStore {
  private readonly inMemory: Float32Array[] = [];
  private file: { dir: string; path: string; fd: number } | undefined;
  private floatsEach = 0;
  private count = 0;

  /**
   * `total`: how many boundaries the chunk will hold; they go to a scratch file when together they
   * would exceed `spillAboveBytes` (decided at the first push, which tells their size).
   */
  constructor(private readonly total: number, private readonly spillAboveBytes: number) {}

  /** Whether the boundaries live in a scratch file (and its path), for tests and progress. */
  get spillPath(): string | undefined { return this.file?.path; }

  get length(): number { return this.count; }

  /** Appends the next boundary (the caller may reuse or drop `data` afterwards). */
  push(data: Float32Array): void {
    if (this.count === 0 && this.floatsEach === 0) this.start(data.length);
    if (data.length !== this.floatsEach) throw new Error(`BoundaryStore: a boundary of ${data.length} floats, expected ${this.floatsEach}`);
    if (!this.file) { this.inMemory.push(data); this.count++; return; }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const at = this.count * this.floatsEach * 4;
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(this.file.fd, bytes, done, bytes.byteLength - done, at + done);
    this.count++;
  }

  private start(floatsEach: number): void {
    this.floatsEach = floatsEach;
    if (this.total * floatsEach * 4 <= this.spillAboveBytes) return;
    const dir = makeStagedDirSync(tmpdir(), 'tfjs-mbq-boundaries-');
    const p = path.join(dir, 'boundaries.bin');
    this.file = { dir, path: p, fd: openSync(p, 'w+') };
  }

  /** Boundary i (a fresh array when it comes from the file). */
  get(i: number): Float32Array {
    if (!(i >= 0 && i < this.count)) throw new Error(`BoundaryStore: no boundary ${i} (${this.count} held)`);
    if (!this.file) return this.inMemory[i];
    const out = new Float32Array(this.floatsEach);
    const bytes = new Uint8Array(out.buffer);
    const at = i * this.floatsEach * 4;
    let done = 0;
    while (done < bytes.byteLength) {
      const n = readSync(this.file.fd, bytes, done, bytes.byteLength - done, at + done);
      if (n === 0) throw new ConversionError('BACKEND', `sensitivity: the scratch file ${this.file.path} shrank while the conversion ran (block boundary ${i} could not be read back)`, this.file.path);
      done += n;
    }
    return out;
  }

  /** Drops the last boundary (its memory, or its place in the file, is free for the next push). */
  pop(): void {
    if (this.count === 0) return;
    this.count--;
    if (!this.file) this.inMemory.pop();
  }

  /** Frees the boundaries and removes the scratch file; a second call does nothing. */
  dispose(): void {
    this.inMemory.length = 0;
    this.count = 0;
    if (!this.file) return;
    closeSync(this.file.fd);
    rmSync(this.file.dir, { recursive: true, force: true });
    cleanupObserver()?.unstaged(this.file.dir);
    this.file = undefined;
  }
}
