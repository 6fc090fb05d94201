/**
 * A tiny random-weight VLM graph with the fixture's interface and graph layout (fixtures/src/model):
 * ViT-ish patchify + projector, token embedding, image merge by concat of StridedSlices, RoPE and
 * causal mask gathered by Range(Shape(input_ids)), LLaMA-style layers (RMSNorm, GQA attention with
 * per-head StridedSlices and BatchMatMulV2, SiLU MLP), lm_head, Identity 'logits'.
 * Written to a directory with mbq.json and a WordLevel tokenizer.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GraphBuilder, attr } from '@tfjs-mbq/converter';
import { mulberry32 as prng, quantizeGroupwise } from '@tfjs-mbq/ops';

export const WORDS = ['what', 'color', 'is', 'the', 'shape', '?', 'red', 'green', 'blue', 'circle', 'square', 'a', 'big', 'small'];
export const SPECIALS = ['<pad>', '<unk>', '<bos>', '<eos>', '<image>'];

export interface TinyVlmOptions {
  seed?: number;
  layers?: number;
  /** Multiplier on the lm_head weights: larger gives larger logit margins. */
  headGain?: number;
  /** Scale of the lm_head column of EOS (0: EOS logit is always 0, so answers run to maxNewTokens). */
  eosScale?: number;
  /** false: no causal mask (bidirectional text attention), which a KV cache cannot serve. */
  causal?: boolean;
  /**
   * Replace the language model's linears (and lm_head) by MbqQuantizedMatMul nodes with packed
   * weights, as the converter writes them (quantized with @tfjs-mbq/ops on the current backend).
   */
  quantize?: { bits: number; groupSize: number; actBits?: 0 | 8 };
  /** Model dimensions (default TINY); benchmarks build larger ones. */
  dims?: Partial<Dims>;
  /** Put an op the KV planner has no rule for (Cumsum over the hidden axis) into the residual stream after layer 0. */
  opaqueOp?: boolean;
}

export interface Dims { imageSize: number; patch: number; hidden: number; heads: number; kvHeads: number; mlp: number; maxSeq: number }
export const TINY: Dims = { imageSize: 8, patch: 4, hidden: 16, heads: 2, kvHeads: 1, mlp: 24, maxSeq: 48 };
export const IMAGE_TOKENS = (TINY.imageSize / TINY.patch) ** 2;

/** mbq.json for a model of these dimensions. */
export function mbqJson(d: Dims = TINY): typeof MBQ_JSON {
  return { ...MBQ_JSON, imageTokenCount: (d.imageSize / d.patch) ** 2, imageSize: [d.imageSize, d.imageSize] };
}

/** Mulberry32: a small seeded PRNG (one implementation, in @tfjs-mbq/ops). */
export { prng };

export function tokenizerJson(): object {
  const vocab: Record<string, number> = {};
  [...SPECIALS, ...WORDS].forEach((w, i) => (vocab[w] = i));
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: SPECIALS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Lowercase' }, pre_tokenizer: { type: 'Whitespace' }, post_processor: null, decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}

export const MBQ_JSON = { imageTokenCount: IMAGE_TOKENS, imageTokenOffset: 1, imageTokenId: 4, bosTokenId: 2, eosTokenId: 3, padTokenId: 0, imageSize: [TINY.imageSize, TINY.imageSize] };

const F = { T: attr.type('float32') };

export function buildTinyVlm(opts: TinyVlmOptions = {}): GraphBuilder {
  const rand = prng(opts.seed ?? 1);
  const normal = (): number => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const b = new GraphBuilder();
  const vocab = SPECIALS.length + WORDS.length;
  const D: Dims = { ...TINY, ...opts.dims };
  const { hidden: H, heads, kvHeads, mlp, maxSeq } = D;
  const imageTokens = (D.imageSize / D.patch) ** 2;
  const d = H / heads;
  const ints = (name: string, v: number[], shape = [v.length]): string => b.constant(name, Int32Array.from(v), shape, 'int32');
  const weight = (name: string, shape: number[], std: number): string =>
    b.constant(name, Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => normal() * std), shape);
  const scalar = (name: string, v: number): string => b.constant(name, Float32Array.of(v), []);
  const matMul = (name: string, x: string, w: string): string => b.op(name, 'MatMul', [x, w], { ...F, transpose_a: attr.bool(false), transpose_b: attr.bool(false) });
  const add = (name: string, x: string, y: string): string => b.op(name, 'AddV2', [x, y], F);
  const mul = (name: string, x: string, y: string): string => b.op(name, 'Mul', [x, y], F);
  const slice = (name: string, x: string, rank: number, axis: number, begin: number, end: number | null): string => {
    const bb = new Array<number>(rank).fill(0);
    const ee = new Array<number>(rank).fill(0);
    bb[axis] = begin;
    ee[axis] = end ?? 0;
    const others = ((1 << rank) - 1) & ~(1 << axis);
    return b.op(name, 'StridedSlice', [x, ints(`${name}/begin`, bb), ints(`${name}/end`, ee), ints(`${name}/strides`, new Array<number>(rank).fill(1))], {
      ...F, Index: attr.type('int32'), begin_mask: attr.int(others), end_mask: attr.int(end === null ? others | (1 << axis) : others),
      ellipsis_mask: attr.int(0), new_axis_mask: attr.int(0), shrink_axis_mask: attr.int(0),
    });
  };
  const concat = (name: string, xs: string[], axis: number): string =>
    b.op(name, 'ConcatV2', [...xs, ints(`${name}/axis`, [axis], [])], { ...F, N: attr.int(xs.length), Tidx: attr.type('int32') });
  const gather = (name: string, table: string, idx: string, axis: number): string =>
    b.op(name, 'GatherV2', [table, idx, ints(`${name}/axis`, [axis], [])], { Tparams: attr.type('float32'), Tindices: attr.type('int32'), Taxis: attr.type('int32'), batch_dims: attr.int(0) });
  /** x · W for an LM linear: a MatMul on a float weight, or MbqQuantizedMatMul on packed codes. */
  const linear = (prefix: string, x: string, k: number, n: number, std: number, scaleCol?: (col: number) => number): string => {
    const w = Float32Array.from({ length: k * n }, (_, i) => normal() * std * (scaleCol ? scaleCol(i % n) : 1));
    const q = opts.quantize;
    if (!q) return matMul(`${prefix}/MatMul`, x, b.constant(`${prefix}/weight`, w, [k, n]));
    const [packed, scales, zeros] = tf.tidy(() => {
      const r = quantizeGroupwise(tf.transpose(tf.tensor2d(w, [k, n])), { bits: q.bits, groupSize: q.groupSize });
      return [r.packed, r.scales, r.zeros];
    }) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const node = b.op(`${prefix}/MatMul`, 'MbqQuantizedMatMul', [
      x,
      b.constant(`${prefix}/packed`, packed.dataSync() as Int32Array, packed.shape, 'int32'),
      b.constant(`${prefix}/scales`, scales.dataSync() as Float32Array, scales.shape),
      b.constant(`${prefix}/zeros`, zeros.dataSync() as Float32Array, zeros.shape),
    ], { T: attr.type('float32'), bits: attr.int(q.bits), group_size: attr.int(q.groupSize), in_features: attr.int(k), act_bits: attr.int(q.actBits ?? 0) });
    tf.dispose([packed, scales, zeros]);
    return node;
  };
  const rms = (p: string, x: string): string => {
    const ms = b.op(`${p}/Mean`, 'Mean', [b.op(`${p}/Square`, 'Square', [x], F), ints(`${p}/axes`, [-1])], { ...F, Tidx: attr.type('int32'), keep_dims: attr.bool(true) });
    const inv = b.op(`${p}/Rsqrt`, 'Rsqrt', [add(`${p}/add_eps`, ms, scalar(`${p}/eps`, 1e-6))], F);
    return mul(`${p}/mul_gamma`, mul(`${p}/mul`, x, inv), b.constant(`${p}/weight`, Float32Array.from({ length: H }, () => 1 + 0.1 * normal()), [H]));
  };

  const pixels = b.placeholder('pixel_values', 'float32', [-1, D.imageSize, D.imageSize, 3]);
  const ids = b.placeholder('input_ids', 'int32', [-1, -1]);
  // Vision: patchify, embed, tanh projector.
  const g = D.imageSize / D.patch;
  const pd = D.patch * D.patch * 3;
  let v = b.op('vision/patchify/Reshape', 'Reshape', [pixels, ints('vision/patchify/shape', [-1, g, D.patch, g, D.patch, 3])], { ...F, Tshape: attr.type('int32') });
  v = b.op('vision/patchify/Transpose', 'Transpose', [v, ints('vision/patchify/perm', [0, 1, 3, 2, 4, 5])], { ...F, Tperm: attr.type('int32') });
  v = b.op('vision/patchify/Reshape_1', 'Reshape', [v, ints('vision/patchify/shape_1', [-1, g * g, pd])], { ...F, Tshape: attr.type('int32') });
  v = add('vision/patch_embed/BiasAdd', matMul('vision/patch_embed/MatMul', v, weight('vision/patch_embed/weight', [pd, H], 2 / Math.sqrt(pd))), weight('vision/patch_embed/bias', [H], 0.1));
  v = b.op('projector/Tanh', 'Tanh', [v], F);
  v = matMul('projector/linear_2/MatMul', v, weight('projector/linear_2/weight', [H, H], 1.5 / Math.sqrt(H)));
  // Text embedding and image merge.
  const emb = gather('lm/embed_tokens/Gather', weight('lm/embed_tokens/weight', [vocab, H], 1), ids, 0);
  let h = concat('lm/merge_image/concat', [slice('lm/merge_image/prefix', emb, 3, 1, 0, 1), v, slice('lm/merge_image/suffix', emb, 3, 1, 1 + imageTokens, null)], 1);
  // Positions, RoPE tables and causal mask.
  const shape = b.op('lm/rope/positions/Shape', 'Shape', [ids], { T: attr.type('int32'), out_type: attr.type('int32') });
  const len = b.op('lm/rope/positions/seq_len', 'StridedSlice', [shape, ints('lm/rope/positions/b', [1]), ints('lm/rope/positions/e', [2]), ints('lm/rope/positions/s', [1])], {
    T: attr.type('int32'), Index: attr.type('int32'), begin_mask: attr.int(0), end_mask: attr.int(0), ellipsis_mask: attr.int(0), new_axis_mask: attr.int(0), shrink_axis_mask: attr.int(1),
  });
  const pos = b.op('lm/rope/positions', 'Range', [ints('lm/rope/positions/start', [0], []), len, ints('lm/rope/positions/delta', [1], [])], { Tidx: attr.type('int32') });
  const cosT = new Float32Array(maxSeq * d);
  const sinT = new Float32Array(maxSeq * d);
  for (let p = 0; p < maxSeq; p++) for (let j = 0; j < d / 2; j++) {
    const a = p / Math.pow(10000, (2 * j) / d);
    cosT[p * d + j] = cosT[p * d + j + d / 2] = Math.cos(a);
    sinT[p * d + j] = sinT[p * d + j + d / 2] = Math.sin(a);
  }
  const maskT = new Float32Array(maxSeq * maxSeq);
  if (opts.causal !== false) for (let i = 0; i < maxSeq; i++) for (let j = i + 1; j < maxSeq; j++) maskT[i * maxSeq + j] = -1e9;
  const cos = gather('lm/rope/cos', b.constant('lm/rope/cos_table', cosT, [maxSeq, d]), pos, 0);
  const sin = gather('lm/rope/sin', b.constant('lm/rope/sin_table', sinT, [maxSeq, d]), pos, 0);
  const mask = gather('lm/causal_mask/cols', gather('lm/causal_mask/rows', b.constant('lm/causal_mask/table', maskT, [maxSeq, maxSeq]), pos, 0), pos, 1);
  const rope = (name: string, x: string): string => {
    const rotated = concat(`${name}/rotate_half`, [b.op(`${name}/Neg`, 'Neg', [slice(`${name}/x2`, x, 3, 2, d / 2, d)], F), slice(`${name}/x1`, x, 3, 2, 0, d / 2)], 2);
    return add(`${name}/add`, mul(`${name}/mul_cos`, x, cos), mul(`${name}/mul_sin`, rotated, sin));
  };
  const layers = opts.layers ?? 2;
  for (let i = 0; i < layers; i++) {
    const p = `lm/layers.${i}`;
    const x = rms(`${p}/input_layernorm`, h);
    const q = linear(`${p}/self_attn/q_proj`, x, H, H, 1 / Math.sqrt(H));
    const k = linear(`${p}/self_attn/k_proj`, x, H, kvHeads * d, 1 / Math.sqrt(H));
    const vv = linear(`${p}/self_attn/v_proj`, x, H, kvHeads * d, 1 / Math.sqrt(H));
    const scale = scalar(`${p}/self_attn/scale`, 1 / Math.sqrt(d));
    const keys: string[] = [];
    const values: string[] = [];
    for (let gi = 0; gi < kvHeads; gi++) {
      keys.push(rope(`${p}/self_attn/kv_head.${gi}/rope_k`, slice(`${p}/self_attn/kv_head.${gi}/k`, k, 3, 2, gi * d, (gi + 1) * d)));
      values.push(slice(`${p}/self_attn/kv_head.${gi}/v`, vv, 3, 2, gi * d, (gi + 1) * d));
    }
    const outs: string[] = [];
    for (let hh = 0; hh < heads; hh++) {
      const hp = `${p}/self_attn/head.${hh}`;
      const qh = rope(`${hp}/rope_q`, slice(`${hp}/q`, q, 3, 2, hh * d, (hh + 1) * d));
      const gi = Math.floor(hh / (heads / kvHeads));
      const s = b.op(`${hp}/scores`, 'BatchMatMulV2', [qh, keys[gi]!], { ...F, adj_x: attr.bool(false), adj_y: attr.bool(true) });
      const masked = add(`${hp}/mask`, mul(`${hp}/scale`, s, scale), mask);
      const probs = b.op(`${hp}/Softmax`, 'Softmax', [masked], F);
      outs.push(b.op(`${hp}/context`, 'BatchMatMulV2', [probs, values[gi]!], { ...F, adj_x: attr.bool(false), adj_y: attr.bool(false) }));
    }
    const o = linear(`${p}/self_attn/o_proj`, concat(`${p}/self_attn/concat_heads`, outs, 2), H, H, 1 / Math.sqrt(H));
    h = add(`${p}/residual_attn`, h, o);
    const x2 = rms(`${p}/post_attention_layernorm`, h);
    const gate = linear(`${p}/mlp/gate_proj`, x2, H, mlp, 1 / Math.sqrt(H));
    const up = linear(`${p}/mlp/up_proj`, x2, H, mlp, 1 / Math.sqrt(H));
    const act = mul(`${p}/mlp/act_mul`, mul(`${p}/mlp/silu`, gate, b.op(`${p}/mlp/Sigmoid`, 'Sigmoid', [gate], F)), up);
    h = add(`${p}/residual_mlp`, h, linear(`${p}/mlp/down_proj`, act, mlp, H, 1 / Math.sqrt(mlp)));
    if (opts.opaqueOp && i === 0) {
      h = b.op(`${p}/opaque/Cumsum`, 'Cumsum', [h, ints(`${p}/opaque/axis`, [2], [])], { ...F, Tidx: attr.type('int32'), exclusive: attr.bool(false), reverse: attr.bool(false) });
    }
  }
  h = rms('lm/norm', h);
  const logits = linear('lm/lm_head', h, H, vocab, (opts.headGain ?? 3) / Math.sqrt(H), (col) => (col === MBQ_JSON.eosTokenId ? opts.eosScale ?? 1 : 1));
  b.op('logits', 'Identity', [logits], F);
  return b;
}

/** Writes the tiny VLM (model.json, shard, mbq.json, tokenizer.json, config.json) into `dir`. */
export async function writeTinyVlm(dir: string, opts: TinyVlmOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  await buildTinyVlm(opts).write(dir);
  const d = { ...TINY, ...opts.dims };
  await writeFile(join(dir, 'mbq.json'), JSON.stringify(mbqJson(d)));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'tiny-test-vlm', text_config: { max_position_embeddings: d.maxSeq } }));
  return dir;
}

/** Deterministic RGBA test image of `size` x `size`. */
export function testImage(size: number, seed = 7): { data: Uint8ClampedArray; width: number; height: number } {
  const rand = prng(seed);
  const data = new Uint8ClampedArray(size * size * 4);
  for (let i = 0; i < data.length; i++) data[i] = i % 4 === 3 ? 255 : Math.floor(rand() * 256);
  return { data, width: size, height: size };
}
