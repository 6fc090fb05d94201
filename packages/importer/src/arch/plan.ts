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

/** The graph weight's values, read from the checkpoint and laid out (one tensor in memory, plus its output). */
export async function loadWeight(ckpt: SafetensorsCheckpoint, spec: WeightSpec): Promise<Float32Array> {
  const src = await ckpt.readFloat32(spec.source);
  const t = spec.transform;
  if (t.kind === 'copy') {
    if (product(spec.shape) !== src.length) throw new Error(`weight ${spec.name}: ${src.length} values for shape [${spec.shape.join(', ')}]`);
    return src;
  }
  if (t.kind === 'transpose') {
    const [n, k] = spec.sourceShape as [number, number];
    const out = new Float32Array(n * k);
    for (let r = 0; r < n; r++) {
      const row = r * k;
      for (let c = 0; c < k; c++) out[c * n + r] = src[row + c]!;
    }
    return out;
  }
  const [o, ch, kh, kw] = spec.sourceShape as [number, number, number, number];
  const out = new Float32Array(o * ch * kh * kw);
  for (let oi = 0; oi < o; oi++) {
    for (let c = 0; c < ch; c++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) out[((y * kw + x) * ch + c) * o + oi] = src[((oi * ch + c) * kh + y) * kw + x]!;
      }
    }
  }
  return out;
}
