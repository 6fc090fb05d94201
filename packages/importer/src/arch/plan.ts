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
  | { kind: 'conv_patch' }
  /**
   * Conv3d weight [O, C, T, kh, kw] applied to a still image (T identical frames, as Qwen2-VL's
   * processor repeats an image) -> [kh·kw·C, O] rows in (y, x, c) order, summed over the T frames.
   */
  | { kind: 'conv3d_still' };

export interface WeightSpec {
  /** Graph Const name, e.g. `lm/layers.0/self_attn/q_proj/weight`. */
  name: string;
  /** Shape in the graph. */
  shape: number[];
  /** Checkpoint tensor name. */
  source: string;
  /** Its shape in the checkpoint (checked on import). */
  sourceShape: number[];
  /** Only rows [begin, end) of the source's first axis (one part of a fused tensor such as a qkv projection). */
  rows?: [number, number];
  transform: WeightTransform;
}

function product(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

/**
 * Most elements of one weight: the importer holds one tensor at a time as float32, so this bounds
 * its memory (4 GiB; a 7B model's largest, the embedding table, has 131 M). A checkpoint (a sparse
 * file, say) whose shapes agree with an absurd config.json is refused before any is allocated.
 */
const MAX_TENSOR_ELEMENTS = 2 ** 30;

/** Checks a checkpoint tensor's shape against what the config implies, and its size against MAX_TENSOR_ELEMENTS. */
export function checkSourceShape(ckpt: SafetensorsCheckpoint, spec: WeightSpec): void {
  const e = ckpt.entry(spec.source);
  if (e.shape.join(',') !== spec.sourceShape.join(',')) {
    throw new ImportError('TENSOR_SHAPE', `${e.file}: tensor '${spec.source}' has shape [${e.shape.join(', ')}] but config.json implies [${spec.sourceShape.join(', ')}]`, e.file);
  }
  const elements = product(spec.sourceShape);
  if (elements > MAX_TENSOR_ELEMENTS) {
    throw new ImportError('TENSOR_SHAPE', `${e.file}: tensor '${spec.source}' has ${elements} elements, more than the ${MAX_TENSOR_ELEMENTS} the importer holds at once (4 GiB as float32)`, e.file);
  }
}

/**
 * The graph weight's values, read from the checkpoint and laid out. Every layout scatters from
 * chunked reads into its output, so memory holds the output plus one read chunk, not the source too.
 */
export async function loadWeight(ckpt: SafetensorsCheckpoint, spec: WeightSpec): Promise<Float32Array> {
  const t = spec.transform;
  const shape = spec.sourceShape.slice();
  // Elements [lo, hi) of the source: all of it, or the rows of one part of a fused tensor.
  let lo = 0;
  let hi = product(shape);
  if (spec.rows) {
    const row = product(shape.slice(1));
    [lo, hi] = [spec.rows[0] * row, spec.rows[1] * row];
    shape[0] = spec.rows[1] - spec.rows[0];
  }
  if (t.kind === 'copy' && !spec.rows) {
    const src = await ckpt.readFloat32(spec.source);
    if (product(spec.shape) !== src.length) throw new Error(`weight ${spec.name}: ${src.length} values for shape [${spec.shape.join(', ')}]`);
    return src;
  }
  const scatter = (place: (e: number, v: number) => void): Promise<void> => ckpt.forEachFloat32Chunk(spec.source, (values, first) => {
    const a = Math.max(lo, first);
    const b = Math.min(hi, first + values.length);
    for (let e = a; e < b; e++) place(e - lo, values[e - first]!);
  });
  if (t.kind === 'copy') {
    const out = new Float32Array(hi - lo);
    if (product(spec.shape) !== out.length) throw new Error(`weight ${spec.name}: ${out.length} values for shape [${spec.shape.join(', ')}]`);
    await scatter((e, v) => { out[e] = v; });
    return out;
  }
  if (t.kind === 'transpose') {
    // [N, K] row-major -> [K, N]: element (r, c) goes to c·N + r.
    const [n, k] = shape as [number, number];
    const out = new Float32Array(n * k);
    await ckpt.forEachFloat32Chunk(spec.source, (values, first) => transposeChunk(values, first, lo, hi, n, k, out));
    return out;
  }
  if (t.kind === 'conv3d_still') {
    // [O, C, T, kh, kw] -> [(y·kw + x)·C + c, O], summed over the T frames in float64, rounded once.
    const [o, ch, frames, kh, kw] = shape as [number, number, number, number, number];
    const sum = new Float64Array(o * ch * kh * kw);
    await scatter((e, v) => {
      const x = e % kw; e = (e - x) / kw;
      const y = e % kh; e = (e - y) / kh;
      e = (e - (e % frames)) / frames;
      const c = e % ch;
      const oi = (e - c) / ch;
      sum[((y * kw + x) * ch + c) * o + oi]! += v;
    });
    return Float32Array.from(sum);
  }
  // Conv2d [O, C, kh, kw] -> [(y·kw + x)·C + c, O].
  const [o, ch, kh, kw] = shape as [number, number, number, number];
  const out = new Float32Array(o * ch * kh * kw);
  await scatter((e, v) => {
    const x = e % kw; e = (e - x) / kw;
    const y = e % kh; e = (e - y) / kh;
    const c = e % ch;
    const oi = (e - c) / ch;
    out[((y * kw + x) * ch + c) * o + oi] = v;
  });
  return out;
}

/** Columns a blocked transpose moves per pass: their output rows stay in cache while the rows stream by. */
const TRANSPOSE_BLOCK = 64;

/**
 * Source elements [first, first + values.length) ∩ [lo, hi) of an [n, k] row-major tensor (elements
 * counted from `lo`) into `out` [k, n]. Whole rows go in column blocks, so writes stride through a
 * few output rows at a time instead of one cache miss per element (7B-sized imports are bound by this).
 */
export function transposeChunk(values: Float32Array, first: number, lo: number, hi: number, n: number, k: number, out: Float32Array): void {
  let e = Math.max(lo, first) - lo; // element index within the [n, k] tensor
  const end = Math.min(hi, first + values.length) - lo;
  if (e >= end) return; // the chunk lies outside the row range
  let src = e + lo - first;
  const one = (): void => {
    const r = Math.floor(e / k);
    out[(e - r * k) * n + r] = values[src]!;
    e++;
    src++;
  };
  while (e < end && e % k !== 0) one(); // the tail of a row the last chunk began
  const rows = Math.floor((end - e) / k);
  const r0 = e / k;
  for (let c0 = 0; c0 < k; c0 += TRANSPOSE_BLOCK) {
    const c1 = Math.min(k, c0 + TRANSPOSE_BLOCK);
    for (let r = 0; r < rows; r++) {
      const s = src + r * k;
      const o = r0 + r;
      for (let c = c0; c < c1; c++) out[c * n + o] = values[s + c]!;
    }
  }
  e += rows * k;
  src += rows * k;
  while (e < end) one(); // the head of a row the next chunk ends
}

/** More weights than any real checkpoint has (a 7B VLM has about 700): a config.json asking for more is refused while planning. */
const MAX_WEIGHTS = 100_000;

/** A config.json whose layer counts imply more than MAX_WEIGHTS weights (planArchitecture names the file). */
export class TooManyWeightsError extends Error {
  constructor() {
    super(`the configuration implies more than ${MAX_WEIGHTS} weight tensors (absurd layer counts?)`);
    this.name = 'TooManyWeightsError';
  }
}

/** Collects WeightSpecs in graph order with the usual torch -> tfjs layouts. */
export class WeightPlan {
  private readonly list: WeightSpec[] = [];

  get specs(): WeightSpec[] {
    return this.list;
  }

  private push(spec: WeightSpec): void {
    if (this.list.length >= MAX_WEIGHTS) throw new TooManyWeightsError();
    this.list.push(spec);
  }

  /** Same values; `sourceShape` when the graph reshapes. */
  copy(name: string, source: string, shape: number[], sourceShape = shape): void {
    this.push({ name, shape, source, sourceShape, transform: { kind: 'copy' } });
  }

  /** torch Linear `<source>.weight` [N, K] (+ `.bias` [N]) -> `<name>/weight` [K, N] (+ `<name>/bias`). */
  linear(name: string, source: string, k: number, n: number, bias: boolean): void {
    this.push({ name: `${name}/weight`, shape: [k, n], source: `${source}.weight`, sourceShape: [n, k], transform: { kind: 'transpose' } });
    if (bias) this.copy(`${name}/bias`, `${source}.bias`, [n]);
  }

  /** Outputs [begin, end) of a fused torch Linear with `total` outputs (e.g. the q part of a qkv projection). */
  linearPart(name: string, source: string, k: number, total: number, begin: number, end: number, bias: boolean): void {
    this.push({ name: `${name}/weight`, shape: [k, end - begin], source: `${source}.weight`, sourceShape: [total, k], rows: [begin, end], transform: { kind: 'transpose' } });
    if (bias) this.push({ name: `${name}/bias`, shape: [end - begin], source: `${source}.bias`, sourceShape: [total], rows: [begin, end], transform: { kind: 'copy' } });
  }

  /** A norm's gamma (+ beta for LayerNorm). */
  norm(name: string, source: string, n: number, bias: boolean): void {
    this.copy(`${name}/weight`, `${source}.weight`, [n]);
    if (bias) this.copy(`${name}/bias`, `${source}.bias`, [n]);
  }

  add(spec: WeightSpec): void {
    this.push(spec);
  }
}
