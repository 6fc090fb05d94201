/** Reads small constant tensors (axes, begin/end, perms) straight from the weight buffer. */
import * as tf from '@tensorflow/tfjs-core';

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, int16: 2, uint16: 2, float16: 2, int64: 8 };

export class ConstValues {
  private readonly offsets = new Map<string, { offset: number; spec: tf.io.WeightsManifestEntry }>();

  private readonly data: tf.io.CompositeArrayBuffer;

  /** `shards`: the weight bytes in manifest order, one buffer per shard (read as one range). */
  constructor(specs: readonly tf.io.WeightsManifestEntry[], shards: ArrayBuffer[]) {
    this.data = new tf.io.CompositeArrayBuffer(shards);
    let offset = 0;
    for (const spec of specs) {
      this.offsets.set(spec.name, { offset, spec });
      const n = spec.shape.reduce((a, b) => a * b, 1);
      const q = spec.quantization;
      const dtype = q ? q.dtype : spec.dtype;
      const bytes = BYTES[dtype];
      if (bytes === undefined) throw new Error(`weights: '${spec.name}' has dtype ${dtype}, which the runtime cannot size`);
      offset += n * bytes;
    }
  }

  /** Integer values of an int32 constant, or null if `name` is not an unquantized int32 weight. */
  ints(name: string): number[] | null {
    const e = this.offsets.get(name);
    if (!e || e.spec.dtype !== 'int32' || e.spec.quantization) return null;
    const n = e.spec.shape.reduce((a, b) => a * b, 1);
    return Array.from(new Int32Array(this.data.slice(e.offset, e.offset + n * 4)));
  }

  has(name: string): boolean {
    return this.offsets.has(name);
  }
}
