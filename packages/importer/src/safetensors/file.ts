/**
 * One safetensors file, read a tensor at a time with positioned reads: only the header is held;
 * a tensor's bytes are read in bounded chunks straight into its output array.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { ImportError } from '../errors.js';
import { FLOAT_DTYPES, INT_DTYPES, decodeFloats, decodeInts, dtypeSize } from './dtype.js';
import { headerLength, parseHeader, type SafetensorsHeader, type TensorEntry } from './header.js';

/** Bytes read per positioned read: bounds the transient buffer beside each tensor's output array. */
export const READ_CHUNK_BYTES = 4 * 1024 * 1024;

async function readFully(fh: FileHandle, file: string, into: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    const { bytesRead } = await fh.read(into, done, into.byteLength - done, position + done);
    if (bytesRead === 0) throw new ImportError('SAFETENSORS_READ', `${file}: unexpected end of file at byte ${position + done} (file shrank while reading?)`, file);
    done += bytesRead;
  }
}

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly header: SafetensorsHeader,
    private readonly chunkBytes: number,
  ) {}

  /**
   * Opens and validates `path`; `chunkBytes` bounds each positioned read (tests lower it); `real`
   * is the file to open when `path` (named in messages) is a link the caller resolved and checked.
   * Only a regular file is read: opened non-blocking and checked on the handle, so a FIFO or device
   * can neither block the open nor be read.
   */
  static async open(path: string, chunkBytes = READ_CHUNK_BYTES, real = path): Promise<SafetensorsFile> {
    let fh: FileHandle;
    try {
      fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENXIO') throw new ImportError('SAFETENSORS_READ', `${path}: not a regular file`, path);
      throw new ImportError(code === 'ENOENT' ? 'SAFETENSORS_MISSING' : 'SAFETENSORS_READ', `${path}: cannot open (${code ?? (e as Error).message})`, path);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
        throw new ImportError('SAFETENSORS_READ', `${path}: is ${kind}, not a regular file`, path);
      }
      const size = st.size;
      const first8 = new Uint8Array(8);
      if (size >= 8) await readFully(fh, path, first8, 0);
      const n = headerLength(path, first8, size);
      const json = new Uint8Array(n);
      await readFully(fh, path, json, 8);
      return new SafetensorsFile(path, fh, parseHeader(path, json, size), chunkBytes);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  entry(name: string): TensorEntry {
    const t = this.header.tensors.get(name);
    if (!t) throw new ImportError('SAFETENSORS_MISSING', `${this.path}: no tensor named '${name}'`, this.path);
    return t;
  }

  /** A float tensor (F32, F16, BF16, F64) as float32, in row-major order of its shape. */
  async readFloat32(name: string): Promise<Float32Array> {
    const t = this.entry(name);
    if (!FLOAT_DTYPES.has(t.dtype)) throw new ImportError('SAFETENSORS_DTYPE', `${this.path}: tensor '${name}' is ${t.dtype}; expected a float type (F32, F16, BF16, F64)`, this.path);
    const size = dtypeSize(t.dtype);
    const out = new Float32Array(t.byteLength / size);
    await this.chunks(t, (bytes, first) => decodeFloats(t.dtype, bytes, out, first));
    return out;
  }

  /**
   * A float tensor streamed as float32 in consecutive chunks (at most `chunkBytes` of the file
   * each): `fn(values, firstElement)`; `values` is reused between calls. Lets a caller lay a
   * tensor out (transpose) without holding its source and its output at once.
   */
  async forEachFloat32Chunk(name: string, fn: (values: Float32Array, firstElement: number) => void): Promise<void> {
    const t = this.entry(name);
    if (!FLOAT_DTYPES.has(t.dtype)) throw new ImportError('SAFETENSORS_DTYPE', `${this.path}: tensor '${name}' is ${t.dtype}; expected a float type (F32, F16, BF16, F64)`, this.path);
    const size = dtypeSize(t.dtype);
    let scratch = new Float32Array(0);
    await this.chunks(t, (bytes, first) => {
      const n = bytes.byteLength / size;
      if (scratch.length < n) scratch = new Float32Array(n);
      const values = scratch.subarray(0, n);
      decodeFloats(t.dtype, bytes, values, 0);
      fn(values, first);
    });
  }

  /** An I32 tensor, or an I64 one whose values all fit in int32, as int32. */
  async readInt32(name: string): Promise<Int32Array> {
    const t = this.entry(name);
    if (!INT_DTYPES.has(t.dtype)) throw new ImportError('SAFETENSORS_DTYPE', `${this.path}: tensor '${name}' is ${t.dtype}; expected I32 or I64`, this.path);
    const out = new Int32Array(t.byteLength / dtypeSize(t.dtype));
    await this.chunks(t, (bytes, first) => {
      const bad = decodeInts(t.dtype, bytes, out, first);
      if (bad >= 0) throw new ImportError('SAFETENSORS_DTYPE', `${this.path}: tensor '${name}' value ${first + bad} does not fit in int32`, this.path);
    });
    return out;
  }

  /** Calls `fn` on consecutive whole-element chunks of the tensor's bytes, with the index of the first element. */
  private async chunks(t: TensorEntry, fn: (bytes: Uint8Array, firstElement: number) => void): Promise<void> {
    const size = dtypeSize(t.dtype);
    const step = Math.max(size, this.chunkBytes - (this.chunkBytes % size));
    const buf = new Uint8Array(Math.min(step, t.byteLength));
    for (let done = 0; done < t.byteLength; done += step) {
      const len = Math.min(step, t.byteLength - done);
      const view = buf.subarray(0, len);
      await readFully(this.fh, this.path, view, t.offset + done);
      fn(view, done / size);
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
