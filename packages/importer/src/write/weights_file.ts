/**
 * Streams graph weights into tfjs shard files (`group1-shard{i}of{n}.bin`): each tensor is
 * encoded and appended as it arrives, so only one tensor is in memory at a time. Shards split
 * at byte boundaries, as tfjs concatenates a group's shards before slicing weights out.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { WeightEntryJson } from '@tfjs-mbq/format';
import { floatToHalfBits } from './half.js';

export type StoredDtype = 'float32' | 'float16';

export function shardNames(totalBytes: number, shardBytes: number): string[] {
  const n = Math.max(1, Math.ceil(totalBytes / shardBytes));
  return Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`);
}

/** Bytes of `count` values stored as `dtype` (int32 weights always take 4). */
export function storedBytes(count: number, dtype: StoredDtype | 'int32'): number {
  return count * (dtype === 'float16' ? 2 : 4);
}

/** The manifest entry of a float32 weight, stored as float16 when `half` (tfjs widens it on load). */
export function float32Entry(name: string, shape: readonly number[], half: boolean): WeightEntryJson {
  return half
    // original_dtype: as tfjs-converter writes it (not in the format's type, which readers do not need).
    ? { name, shape: shape.slice(), dtype: 'float32', quantization: { dtype: 'float16', original_dtype: 'float32' } } as WeightEntryJson
    : { name, shape: shape.slice(), dtype: 'float32' };
}

/** float32 values as little-endian binary16 (into `out` when given); returns the index of the first value beyond float16's range, or -1. */
export function encodeHalf(values: Float32Array, out = new Uint16Array(values.length)): { bytes: Uint8Array; overflow: number } {
  let overflow = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    out[i] = floatToHalfBits(v);
    if (overflow < 0 && Number.isFinite(v) && (out[i]! & 0x7c00) === 0x7c00) overflow = i;
  }
  return { bytes: new Uint8Array(out.buffer, out.byteOffset, values.length * 2), overflow };
}

/** Values encoded per write when storing float16: the encoded copy is this small, never a whole tensor. */
export const HALF_CHUNK_VALUES = 1 << 20;

/**
 * Appends `values` as float16 in chunks of {@link HALF_CHUNK_VALUES} through one reused buffer, so
 * memory holds the float32 tensor and 2 MiB, not its half copy too. Returns the index of the first
 * value beyond float16's range, or -1; it stops there (the caller aborts the output).
 */
export async function appendHalf(writer: ShardWriter, values: Float32Array): Promise<number> {
  const scratch = new Uint16Array(Math.min(values.length, HALF_CHUNK_VALUES));
  for (let start = 0; start < values.length; start += HALF_CHUNK_VALUES) {
    const part = values.subarray(start, Math.min(values.length, start + HALF_CHUNK_VALUES));
    const { bytes, overflow } = encodeHalf(part, scratch);
    if (overflow >= 0) return start + overflow;
    await writer.append(bytes);
  }
  return -1;
}

export class ShardWriter {
  private index = 0;
  private used = 0;
  private fh: FileHandle | undefined;
  private written = 0;

  constructor(private readonly dir: string, private readonly names: readonly string[], private readonly shardBytes: number) {}

  async append(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.byteLength) {
      if (!this.fh) this.fh = await open(join(this.dir, this.names[this.index]!), 'w');
      const take = Math.min(bytes.byteLength - at, this.shardBytes - this.used);
      await this.fh.write(bytes, at, take);
      at += take;
      this.used += take;
      this.written += take;
      if (this.used === this.shardBytes && this.index < this.names.length - 1) await this.next();
    }
  }

  private async next(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    this.index++;
    this.used = 0;
  }

  /**
   * Writes through `fill` and closes the last shard; on any failure the open shard is closed before
   * the error goes on (an unclosed FileHandle would be closed by the garbage collector, with a warning).
   */
  async writeAll(fill: (writer: ShardWriter) => Promise<void>): Promise<number> {
    try {
      await fill(this);
    } catch (e) {
      await this.fh?.close().catch(() => undefined);
      this.fh = undefined;
      throw e;
    }
    return this.close();
  }

  /** Closes the last shard (creating it when there were no bytes at all); returns the bytes written. */
  async close(): Promise<number> {
    if (!this.fh) this.fh = await open(join(this.dir, this.names[this.index]!), 'w');
    await this.fh.close();
    this.fh = undefined;
    if (this.index !== this.names.length - 1) throw new Error(`ShardWriter: wrote ${this.index + 1} of ${this.names.length} shards`);
    return this.written;
  }
}
