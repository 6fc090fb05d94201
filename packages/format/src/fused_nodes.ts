/**
 * The fused decoder graph ops (docs/architecture.md, "Fused decoder ops"): op names and their
 * attributes as written in model.json and read back. The converter writes them, ops executes
 * them, the runtime's KV-cache planner reads them: all through here.
 */
import type { AttrValueJson } from './graph_model.js';

/** inputs [x [..., C], gamma [C]]: y = x · rsqrt(mean(x², last axis) + eps) · gamma. attr `eps` (f). */
export const MBQ_RMS_NORM_OP = 'MbqRmsNorm';
/**
 * inputs [x, residual, gamma [C]] (x and residual broadcast as in Add): outputs
 * [y = rmsnorm(sum) · gamma, sum = x + residual], the residual add folded into the norm that
 * reads it. Output 0 is what the replaced MbqRmsNorm gave (its node keeps the name), output 1
 * the residual stream carried on. attr `eps` (f), as MbqRmsNorm.
 */
export const MBQ_ADD_RMS_NORM_OP = 'MbqAddRmsNorm';
/** inputs [x [..., 2I]] (gate then up along the last axis): y [..., I] = silu(gate) · up. */
export const MBQ_SILU_GATE_OP = 'MbqSiluGate';
/**
 * inputs [x [..., n·d], cos [..., d], sin [..., d]] (rotate-half RoPE, cos/sin rows broadcast
 * against x's trailing leading axes): heads 0..`heads`-1 of width `head_dim` are rotated, the
 * rest of the last axis is copied. attrs `head_dim` (i), `heads` (i).
 */
export const MBQ_ROPE_OP = 'MbqRope';
/**
 * inputs [q [B, Sq, H·d], k [B, Sk, KV·d], v [B, Sk, KV·d], mask [Sq, Sk] (additive)]:
 * per head h, softmax(q_h · k_gᵀ · scale + mask) · v_g with g = floor(h / (H / KV)); out
 * [B, Sq, H·d]. attrs `heads` (i), `kv_heads` (i), `head_dim` (i), `scale` (f).
 */
export const MBQ_ATTENTION_OP = 'MbqAttention';
/**
 * inputs [qkv [B, S, (H + 2·KV)·d] (q heads, k heads, v heads), cos, sin [..., d] (as MbqRope's,
 * against qkv's rows), then optionally k_past, v_past [B, P, KV·d] (both or neither; neither: P =
 * 0)]: outputs [q [B, S, H·d] rotate-half rotated, k [B, P + S, KV·d] = k_past then the rotated k
 * heads, v [B, P + S, KV·d] = v_past then the v heads]: RoPE, the q/k/v split and the KV-cache
 * append in one kernel. The converter writes it with three inputs (prefill: the whole sequence),
 * the runtime's step graph with five (k_past, v_past the cache). attrs `heads`, `kv_heads`,
 * `head_dim` (i; head_dim even).
 */
export const MBQ_ROPE_APPEND_KV_OP = 'MbqRopeAppendKv';

/** Every fused op, in the order reports list them (a block's: norms, RoPE, attention, MLP). */
export const FUSED_OPS: readonly string[] = [MBQ_RMS_NORM_OP, MBQ_ADD_RMS_NORM_OP, MBQ_ROPE_OP, MBQ_ROPE_APPEND_KV_OP, MBQ_ATTENTION_OP, MBQ_SILU_GATE_OP];

export interface RmsNormAttrs { eps: number }
export interface RopeAttrs { headDim: number; heads: number }
export interface AttentionAttrs { heads: number; kvHeads: number; headDim: number; scale: number }
export interface RopeAppendKvAttrs { heads: number; kvHeads: number; headDim: number }

const T_FLOAT: AttrValueJson = { type: 'DT_FLOAT' };

function positiveInt(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`${op}: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}
function finite(op: string, name: string, v: unknown, positive: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (positive ? v <= 0 : v < 0)) {
    throw new Error(`${op}: ${name} must be a finite ${positive ? 'positive' : 'non-negative'} number, got ${String(v)}`);
  }
  return v;
}

/** Why RoPE attrs are invalid (head_dim even), or undefined. */
function ropeAttrsProblem(a: RopeAttrs): string | undefined {
  try {
    positiveInt(MBQ_ROPE_OP, 'headDim', a.headDim);
    positiveInt(MBQ_ROPE_OP, 'heads', a.heads);
  } catch (e) { return (e as Error).message; }
  return a.headDim % 2 === 0 ? undefined : `${MBQ_ROPE_OP}: headDim must be even, got ${a.headDim}`;
}

/** Why attention attrs are invalid (kvHeads divides heads), or undefined. */
function attentionAttrsProblem(a: AttentionAttrs): string | undefined {
  try {
    positiveInt(MBQ_ATTENTION_OP, 'heads', a.heads);
    positiveInt(MBQ_ATTENTION_OP, 'kvHeads', a.kvHeads);
    positiveInt(MBQ_ATTENTION_OP, 'headDim', a.headDim);
    finite(MBQ_ATTENTION_OP, 'scale', a.scale, true);
  } catch (e) { return (e as Error).message; }
  return a.heads % a.kvHeads === 0 ? undefined : `${MBQ_ATTENTION_OP}: kvHeads (${a.kvHeads}) must divide heads (${a.heads})`;
}

/** Why MbqRopeAppendKv attrs are invalid (head_dim even), or undefined. */
function ropeAppendKvAttrsProblem(a: RopeAppendKvAttrs): string | undefined {
  try {
    positiveInt(MBQ_ROPE_APPEND_KV_OP, 'heads', a.heads);
    positiveInt(MBQ_ROPE_APPEND_KV_OP, 'kvHeads', a.kvHeads);
    positiveInt(MBQ_ROPE_APPEND_KV_OP, 'headDim', a.headDim);
  } catch (e) { return (e as Error).message; }
  return a.headDim % 2 === 0 ? undefined : `${MBQ_ROPE_APPEND_KV_OP}: headDim must be even, got ${a.headDim}`;
}

export function encodeRmsNormAttrs(a: RmsNormAttrs): Record<string, AttrValueJson> {
  return { T: T_FLOAT, eps: { f: finite(MBQ_RMS_NORM_OP, 'eps', a.eps, false) } };
}

export function encodeRopeAttrs(a: RopeAttrs): Record<string, AttrValueJson> {
  const problem = ropeAttrsProblem(a);
  if (problem) throw new Error(problem);
  return { T: T_FLOAT, head_dim: { i: String(a.headDim) }, heads: { i: String(a.heads) } };
}

export function encodeAttentionAttrs(a: AttentionAttrs): Record<string, AttrValueJson> {
  const problem = attentionAttrsProblem(a);
  if (problem) throw new Error(problem);
  return { T: T_FLOAT, heads: { i: String(a.heads) }, kv_heads: { i: String(a.kvHeads) }, head_dim: { i: String(a.headDim) }, scale: { f: a.scale } };
}

export function encodeRopeAppendKvAttrs(a: RopeAppendKvAttrs): Record<string, AttrValueJson> {
  const problem = ropeAppendKvAttrsProblem(a);
  if (problem) throw new Error(problem);
  return { T: T_FLOAT, heads: { i: String(a.heads) }, kv_heads: { i: String(a.kvHeads) }, head_dim: { i: String(a.headDim) } };
}

/**
 * Attribute readers over `read(name)`: a number (tfjs GraphNode attrs) or, for integers, a
 * decimal string (`{ "i": "4" }` in model.json). `where` names the node in errors.
 */
function reader(read: (name: string) => unknown, where: string): { int(name: string): number; float(name: string): number } {
  return {
    int(name) {
      const raw = read(name);
      const v = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${where}: attr '${name}' must be an integer (type "i"), got ${JSON.stringify(raw)}`);
      return v;
    },
    float(name) {
      const v = read(name);
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: attr '${name}' must be a finite number (type "f"), got ${JSON.stringify(v)}`);
      return v;
    },
  };
}

export function decodeRmsNormAttrs(read: (name: string) => unknown, where: string): RmsNormAttrs {
  const eps = reader(read, where).float('eps');
  if (eps < 0) throw new Error(`${where}: eps must be non-negative, got ${eps}`);
  return { eps };
}

export function decodeRopeAttrs(read: (name: string) => unknown, where: string): RopeAttrs {
  const r = reader(read, where);
  const a = { headDim: r.int('head_dim'), heads: r.int('heads') };
  const problem = ropeAttrsProblem(a);
  if (problem) throw new Error(`${where}: ${problem}`);
  return a;
}

export function decodeAttentionAttrs(read: (name: string) => unknown, where: string): AttentionAttrs {
  const r = reader(read, where);
  const a = { heads: r.int('heads'), kvHeads: r.int('kv_heads'), headDim: r.int('head_dim'), scale: r.float('scale') };
  const problem = attentionAttrsProblem(a);
  if (problem) throw new Error(`${where}: ${problem}`);
  return a;
}

export function decodeRopeAppendKvAttrs(read: (name: string) => unknown, where: string): RopeAppendKvAttrs {
  const r = reader(read, where);
  const a = { heads: r.int('heads'), kvHeads: r.int('kv_heads'), headDim: r.int('head_dim') };
  const problem = ropeAppendKvAttrsProblem(a);
  if (problem) throw new Error(`${where}: ${problem}`);
  return a;
}
