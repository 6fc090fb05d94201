/**
 * What an architecture module hands the writer: the graph it builds and, for every parameter the
 * graph reads, where its values come from in the checkpoint and how they are laid out for tfjs.
 */
import { ImportError } from '../errors.js';
import type { SafetensorsCheckpoint } from '../safetensors/index.js';

/** How a checkpoint tensor becomes a graph weight. */
export type WeightTransform =
  /** Same values, same order (norm gammas, biases, embedding tables); `shape` may reshape. */
  | { kind: 'copy' }
  /** torch Linear weight [N, K] -> tfjs MatMul weight [K, N]. */
  | { kind: 'transpose' }
  /** Conv2d weight [O, C, kh, kw] (stride = kernel) -> the patch-matmul weight [kh·kw·C, O], rows in (y, x, c) order. */
  | { kind: 'conv_patch' };

export interface WeightSpec {
  /** Graph Const name, e.g. `lm/layers.0/self_attn/q_proj/weight`. */
  name: string;
  /** Shape in the graph. */
  shape: number[];
  /** Checkpoint tensor name. */
  source: string;
  /** Its shape in the checkpoint (checked on import). */
  sourceShape: number[];
  transform: WeightTransform;
}

function product(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

/** Checks a checkpoint tensor's shape against what the config implies. */
export function checkSourceShape(ckpt: SafetensorsCheckpoint, spec: WeightSpec): void {
  const e = ckpt.entry(spec.source);
  if (e.shape.join(',') !== spec.sourceShape.join(',')) {
    throw new ImportError('TENSOR_SHAPE', `${e.file}: tensor '${spec.source}' has shape [${e.shape.join(', ')}] but config.json implies [${spec.sourceShape.join(', ')}]`, e.file);
  }
}

/**
 * The graph weight's values, read from the checkpoint and laid out. Transposed layouts are
 * scattered chunk by chunk into the output, so memory holds the output plus one read chunk.
 */
export async function loadWeight(ckpt: SafetensorsCheckpoint, spec: WeightSpec): Promise<Float32Array> {
  const t = spec.transform;
  if (t.kind === 'copy') {
    const src = await ckpt.readFloat32(spec.source);
    if (product(spec.shape) !== src.length) throw new Error(`weight ${spec.name}: ${src.length} values for shape [${spec.shape.join(', ')}]`);
    return src;
  }
  const out = new Float32Array(product(spec.sourceShape));
  if (t.kind === 'transpose') {
    // source [N, K] row-major -> out [K, N]: element (r, c) goes to c·N + r.
    const [n, k] = spec.sourceShape as [number, number];
    await ckpt.forEachFloat32Chunk(spec.source, (values, first) => {
      for (let i = 0; i < values.length; i++) {
        const e = first + i;
        const r = Math.floor(e / k);
        out[(e - r * k) * n + r] = values[i]!;
      }
    });
    return out;
  }
  // source [O, C, kh, kw] -> out [(y·kw + x)·C + c, O].
  const [o, ch, kh, kw] = spec.sourceShape as [number, number, number, number];
  await ckpt.forEachFloat32Chunk(spec.source, (values, first) => {
    for (let i = 0; i < values.length; i++) {
      let e = first + i;
      const x = e % kw; e = (e - x) / kw;
      const y = e % kh; e = (e - y) / kh;
      const c = e % ch;
      const oi = (e - c) / ch;
      out[((y * kw + x) * ch + c) * o + oi] = values[i]!;
    }
  });
  return out;
}
