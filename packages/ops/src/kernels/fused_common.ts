/**
 * Shape checks and dimensions of the fused decoder kernels (MbqRmsNorm, MbqAddRmsNorm,
 * MbqSiluGate, MbqRope, MbqAttention, MbqRopeAppendKv), shared by the op wrappers and every backend's kernel (graph nodes reach the
 * kernels without the wrappers). Errors follow tfjs: "Error in <kernel>: <problem>".
 */
import type { MbqAttentionAttrs, MbqRopeAppendKvAttrs, MbqRopeAttrs } from '../kernel_names.js';
import { MbqAddRmsNorm, MbqAttention, MbqRmsNorm, MbqRope, MbqRopeAppendKv, MbqSiluGate } from '../kernel_names.js';

const failOp = (op: string, problem: string): never => {
  throw new Error(`Error in ${op}: ${problem}`);
};
const fail = failOp;
const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** rows x C. */
export function rmsNormDims(x: readonly number[], gamma: readonly number[], op: string = MbqRmsNorm): { rows: number; C: number } {
  if (x.length < 1) fail(op, `'x' must have rank >= 1, got shape [${x}]`);
  const C = x[x.length - 1]!;
  if (gamma.length !== 1 || gamma[0] !== C) fail(op, `'gamma' must have shape [${C}] (the last axis of x [${x}]), got [${gamma}]`);
  if (C === 0) fail(op, `'x' must have a non-empty last axis, got shape [${x}]`);
  return { rows: size(x) / C, C };
}

/** rows x C; the kernels take x and residual of one shape (the graph op broadcasts others itself). */
export function addRmsNormDims(x: readonly number[], residual: readonly number[], gamma: readonly number[]): { rows: number; C: number } {
  if (x.length !== residual.length || x.some((v, i) => v !== residual[i])) {
    fail(MbqAddRmsNorm, `'residual' must have the shape of 'x' [${x}], got [${residual}]`);
  }
  return rmsNormDims(x, gamma, MbqAddRmsNorm);
}

/** rows x 2I -> rows x I. */
export function siluGateDims(x: readonly number[]): { rows: number; I: number; outShape: number[] } {
  if (x.length < 1) fail(MbqSiluGate, `'x' must have rank >= 1, got shape [${x}]`);
  const L = x[x.length - 1]!;
  if (L % 2 !== 0) fail(MbqSiluGate, `the last axis of 'x' (gate | up) must have even length, got shape [${x}]`);
  const I = L / 2;
  return { rows: I === 0 ? 0 : size(x) / L, I, outShape: [...x.slice(0, -1), I] };
}

/** x rows of width L; cos/sin rows (cosRows) repeat along x's rows (x row r uses cos row r % cosRows). */
export function ropeDims(x: readonly number[], cos: readonly number[], sin: readonly number[], a: MbqRopeAttrs, op: string = MbqRope): { rows: number; L: number; cosRows: number } {
  const fail = (_kernel: string, problem: string): never => failOp(op, problem);
  const { headDim: d, heads } = a;
  if (!Number.isInteger(d) || d <= 0 || d % 2 !== 0) fail(MbqRope, `headDim must be a positive even integer, got ${d}`);
  if (!Number.isInteger(heads) || heads <= 0) fail(MbqRope, `heads must be a positive integer, got ${heads}`);
  if (x.length < 2) fail(MbqRope, `'x' must have rank >= 2, got shape [${x}]`);
  const L = x[x.length - 1]!;
  if (heads * d > L) fail(MbqRope, `heads (${heads}) x headDim (${d}) exceeds the last axis of 'x' [${x}]`);
  if (cos.length !== sin.length || cos.some((v, i) => v !== sin[i])) fail(MbqRope, `'cos' [${cos}] and 'sin' [${sin}] must have the same shape`);
  if (cos.length < 1 || cos[cos.length - 1] !== d) fail(MbqRope, `'cos' must have last axis headDim (${d}), got [${cos}]`);
  // cos's leading axes (leading 1s dropped) must be the trailing leading axes of x: they broadcast.
  const lead = cos.slice(0, -1);
  while (lead.length && lead[0] === 1) lead.shift();
  const xLead = x.slice(0, -1);
  const tail = xLead.slice(xLead.length - lead.length);
  if (lead.length > xLead.length || lead.some((v, i) => v !== tail[i])) {
    fail(MbqRope, `'cos' [${cos}] does not broadcast against the rows of 'x' [${x}] (its leading axes must end x's)`);
  }
  return { rows: size(xLead), L, cosRows: size(lead) };
}

export interface AttentionDims { B: number; Sq: number; Sk: number; H: number; KV: number; d: number }

export function attentionDims(q: readonly number[], k: readonly number[], v: readonly number[], mask: readonly number[], a: MbqAttentionAttrs): AttentionDims {
  const { heads: H, kvHeads: KV, headDim: d } = a;
  if (![H, KV, d].every((n) => Number.isInteger(n) && n > 0)) fail(MbqAttention, `heads, kvHeads and headDim must be positive integers, got ${H}, ${KV}, ${d}`);
  if (H % KV !== 0) fail(MbqAttention, `kvHeads (${KV}) must divide heads (${H})`);
  if (!(a.scale > 0 && Number.isFinite(a.scale))) fail(MbqAttention, `scale must be a finite positive number, got ${a.scale}`);
  if (q.length !== 3 || q[2] !== H * d) fail(MbqAttention, `'q' must have shape [B, Sq, ${H * d}] (heads x headDim), got [${q}]`);
  const [B, Sq] = [q[0]!, q[1]!];
  if (k.length !== 3 || k[0] !== B || k[2] !== KV * d) fail(MbqAttention, `'k' must have shape [${B}, Sk, ${KV * d}], got [${k}]`);
  const Sk = k[1]!;
  if (v.length !== 3 || v[0] !== B || v[1] !== Sk || v[2] !== KV * d) fail(MbqAttention, `'v' must have the shape of 'k' [${k}], got [${v}]`);
  if (mask.length !== 2 || mask[0] !== Sq || mask[1] !== Sk) fail(MbqAttention, `'mask' must have shape [Sq, Sk] = [${Sq}, ${Sk}], got [${mask}]`);
  if (Sk === 0 && Sq > 0) fail(MbqAttention, `'k' must hold at least one position, got [${k}]`);
  return { B, Sq, Sk, H, KV, d };
}

export interface RopeAppendKvDims {
  B: number; S: number;
  /** Cached positions before these (0 without kPast/vPast). */
  P: number;
  /** Row widths: qkv, q (H·d), k and v (KV·d). */
  C: number; Q: number; K: number;
  cosRows: number;
}

/** qkv [B, S, (H + 2·KV)·d], cos/sin against qkv's rows, kPast/vPast [B, P, KV·d] (both or neither). */
export function ropeAppendKvDims(qkv: readonly number[], cos: readonly number[], sin: readonly number[],
  kPast: readonly number[] | undefined, vPast: readonly number[] | undefined, a: MbqRopeAppendKvAttrs): RopeAppendKvDims {
  const op = MbqRopeAppendKv;
  const { heads: H, kvHeads: KV, headDim: d } = a;
  if (![H, KV].every((n) => Number.isInteger(n) && n > 0)) failOp(op, `heads and kvHeads must be positive integers, got ${H}, ${KV}`);
  const C = (H + 2 * KV) * d;
  if (qkv.length !== 3 || qkv[2] !== C) failOp(op, `'qkv' must have shape [B, S, ${C}] ((heads + 2 kvHeads) x headDim), got [${qkv}]`);
  const { cosRows } = ropeDims(qkv, cos, sin, { headDim: d, heads: H + KV }, op);
  const [B, S] = [qkv[0]!, qkv[1]!];
  if (S === 0) failOp(op, `'qkv' must hold at least one new position, got [${qkv}]`);
  const K = KV * d;
  if ((kPast === undefined) !== (vPast === undefined)) failOp(op, `'kPast' and 'vPast' must be given together`);
  let P = 0;
  if (kPast && vPast) {
    if (kPast.length !== 3 || kPast[0] !== B || kPast[2] !== K) failOp(op, `'kPast' must have shape [${B}, P, ${K}], got [${kPast}]`);
    P = kPast[1]!;
    if (vPast.length !== 3 || vPast.some((v, i) => v !== kPast[i])) failOp(op, `'vPast' must have the shape of 'kPast' [${kPast}], got [${vPast}]`);
  }
  return { B, S, P, C, Q: H * d, K, cosRows };
}
