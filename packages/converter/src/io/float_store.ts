/**
 * Float arrays a conversion keeps for a while and reads back one at a time (issue 12 §4): a
 * sensitivity chunk's block boundaries, the float reference logits of a pass-by-pass run. In memory,
 * or, once `useScratchFile` is called, in a scratch file (io/scratch_file.ts, as lazy_weights'
 * spill file; removed by dispose); float32 bytes round-trip exactly, so results do not depend on where they are.
 */
import { ConversionError } from './errors.js';
import { ScratchFile } from './scratch_file.js';

export class FloatStore {
  private readonly inMemory: Float32Array[] = [];
  private file: ScratchFile | undefined;
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
    this.file = new ScratchFile('tfjs-mbq-scratch-', 'floats.bin');
  }

  /** Appends an array (the store keeps it when in memory: the caller must not change it). */
  push(data: Float32Array): void {
    const last = this.placed[this.placed.length - 1];
    const at = last ? last.at + last.length : 0;
    if (this.file) {
      this.file.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at * 4);
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
    const file = this.file;
    file.read(new Uint8Array(out.buffer), at * 4, () => new ConversionError('BACKEND', `the scratch file ${file.path} shrank while the conversion ran (${this.what} ${i} could not be read back)`, file.path));
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
    this.file?.dispose();
    this.file = undefined;
  }
}
