/** Input checks shared by the ops; messages follow tfjs: "Error in <op>: <problem>". */
import * as tf from '@tensorflow/tfjs-core';
import { weightBitsProblem } from '@tfjs-mbq/format';

export function fail(op: string, problem: string): never {
  throw new Error(`Error in ${op}: ${problem}`);
}

export function assertTensor(op: string, name: string, t: unknown): asserts t is tf.Tensor {
  if (!(t instanceof tf.Tensor)) fail(op, `'${name}' must be a tf.Tensor, got ${t === null ? 'null' : typeof t}`);
}

export function assertDtype(op: string, name: string, t: tf.Tensor, ...dtypes: tf.DataType[]): void {
  if (!dtypes.includes(t.dtype)) fail(op, `'${name}' must have dtype ${dtypes.join(' or ')}, got ${t.dtype}`);
}

export function assertRank(op: string, name: string, t: tf.Tensor, rank: number): void {
  if (t.rank !== rank) fail(op, `'${name}' must be rank ${rank}, got shape [${t.shape}]`);
}

export function assertMinRank(op: string, name: string, t: tf.Tensor, rank: number): void {
  if (t.rank < rank) fail(op, `'${name}' must have rank >= ${rank}, got shape [${t.shape}]`);
}

export function assertBits(op: string, bits: unknown): asserts bits is number {
  const problem = weightBitsProblem(bits);
  if (problem !== undefined) fail(op, problem);
}

/** groupSize must be a positive integer dividing K. */
export function assertGroupSize(op: string, groupSize: unknown, K: number): asserts groupSize is number {
  if (typeof groupSize !== 'number' || !Number.isInteger(groupSize) || groupSize < 1) {
    fail(op, `groupSize must be a positive integer, got ${String(groupSize)}`);
  }
  if (K % groupSize !== 0) fail(op, `groupSize (${groupSize}) must divide the input dimension K (${K})`);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertNonEmpty(op: string, name: string, t: tf.Tensor): void {
  if (t.size === 0) fail(op, `'${name}' must not be empty, got shape [${t.shape}]`);
}
