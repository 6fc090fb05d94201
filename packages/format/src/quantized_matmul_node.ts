/**
 * The graph node `MbqQuantizedMatMul` (docs/architecture.md, "Custom graph op"): its op name, its
 * attributes as written in model.json and as read back, and the arithmetic of its packed weights.
 * The converter writes it, ops executes it, runtime and converter read it: all through here.
 */
import type { AttrValueJson } from './graph_model.js';

export const MBQ_QUANTIZED_MATMUL_OP = 'MbqQuantizedMatMul';

/** Weight bits a packed row may hold. */
export const MIN_WEIGHT_BITS = 2;
export const MAX_WEIGHT_BITS = 8;

/** Activation bits of the node: 0 = float activations, 8 = per-token symmetric int8 (W4A8). */
export type ActBits = 0 | 8;

export interface QuantizedMatMulAttrs {
  bits: number;
  groupSize: number;
  /** K: input features, the row length before packing. */
  inFeatures: number;
  actBits: ActBits;
}

/** Why `bits` is not a weight bit width, or undefined if it is. */
export function weightBitsProblem(bits: unknown): string | undefined {
  return typeof bits === 'number' && Number.isInteger(bits) && bits >= MIN_WEIGHT_BITS && bits <= MAX_WEIGHT_BITS
    ? undefined : `bits must be an integer in [${MIN_WEIGHT_BITS}, ${MAX_WEIGHT_BITS}], got ${String(bits)}`;
}

/** 32-bit words that hold one packed row of K codes of `bits` bits: ceil(K * bits / 32). */
export function wordsPerRow(K: number, bits: number): number {
  const problem = weightBitsProblem(bits);
  if (problem !== undefined) throw new Error(`wordsPerRow: ${problem}`);
  if (!Number.isInteger(K) || K < 0) throw new Error(`wordsPerRow: K must be a non-negative integer, got ${K}`);
  return Math.ceil((K * bits) / 32);
}

/** (scale, zero) groups per row: K / groupSize (groupSize must divide K). */
export function groupsPerRow(K: number, groupSize: number): number {
  if (!Number.isInteger(groupSize) || groupSize <= 0 || K % groupSize !== 0) {
    throw new Error(`groupsPerRow: groupSize must be a positive integer dividing K=${K}, got ${groupSize}`);
  }
  return K / groupSize;
}

/** Why a set of node attributes is not valid, or undefined (the names are the op's camel-case ones). */
export function quantizedMatMulAttrsProblem(a: { bits: unknown; groupSize: unknown; inFeatures: unknown; actBits: unknown }): string | undefined {
  const bits = weightBitsProblem(a.bits);
  if (bits !== undefined) return bits;
  const K = a.inFeatures;
  if (typeof K !== 'number' || !Number.isInteger(K) || K <= 0) return `inFeatures must be a positive integer, got ${String(K)}`;
  const g = a.groupSize;
  if (typeof g !== 'number' || !Number.isInteger(g) || g <= 0 || K % g !== 0) return `groupSize must be a positive integer dividing inFeatures=${K}, got ${String(g)}`;
  if (a.actBits !== 0 && a.actBits !== 8) return `actBits must be 0 (float) or 8 (int8 per token), got ${String(a.actBits)}`;
  return undefined;
}

/** The node's `attr` as model.json holds it; `act_bits` only for weight-activation nodes. */
export function encodeQuantizedMatMulAttrs(a: QuantizedMatMulAttrs): Record<string, AttrValueJson> {
  const problem = quantizedMatMulAttrsProblem(a);
  if (problem !== undefined) throw new Error(`${MBQ_QUANTIZED_MATMUL_OP}: ${problem}`);
  const attr: Record<string, AttrValueJson> = {
    T: { type: 'DT_FLOAT' },
    bits: { i: String(a.bits) },
    group_size: { i: String(a.groupSize) },
    in_features: { i: String(a.inFeatures) },
  };
  if (a.actBits) attr.act_bits = { i: String(a.actBits) };
  return attr;
}

/**
 * The attributes of a node, validated. `read(name)` returns an attribute's integer as the reader
 * has it: a number (tfjs GraphNode attrs) or a decimal string (`{ "i": "4" }` in model.json).
 * `where` names the node in errors.
 */
export function decodeQuantizedMatMulAttrs(read: (name: string) => unknown, where: string): QuantizedMatMulAttrs {
  const int = (name: string, fallback?: number): number => {
    const raw = read(name);
    if (raw === undefined && fallback !== undefined) return fallback;
    const v = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${where}: attr '${name}' must be an integer (type "i"), got ${JSON.stringify(raw)}`);
    return v;
  };
  const actBits = int('act_bits', 0);
  if (actBits !== 0 && actBits !== 8) throw new Error(`${where}: act_bits must be 0 or 8, got ${actBits}`);
  const attrs: QuantizedMatMulAttrs = { bits: int('bits'), groupSize: int('group_size'), inFeatures: int('in_features'), actBits };
  const problem = quantizedMatMulAttrsProblem(attrs);
  if (problem !== undefined) throw new Error(`${where}: ${problem}`);
  return attrs;
}

/** The attributes of a node as model.json holds it (`node.attr`). */
export function quantizedMatMulAttrsOfJson(attr: Record<string, AttrValueJson> | undefined, where: string): QuantizedMatMulAttrs {
  return decodeQuantizedMatMulAttrs((name) => attr?.[name]?.i, where);
}
