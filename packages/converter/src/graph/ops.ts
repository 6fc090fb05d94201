/**
 * The TensorFlow ops the executor understands, each implemented with tfjs ops (so tf.grad works
 * through them). Semantics follow tfjs-converter's operation executors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MBQ_QUANTIZED_MATMUL_OP, quantizedMatMulAttrsOfJson } from '@tfjs-mbq/format';
import { quantizedMatMul } from '@tfjs-mbq/ops';
import type { NodeDefJson, DataTypeName } from './types.js';
import { FUSED_OP_IMPLS } from './fused_ops.js';
import { attrBool, attrFloat, attrInt, attrIntList, attrString, attrStringList, attrType } from './attrs.js';

export type OpImpl = (inputs: tf.Tensor[], node: NodeDefJson) => tf.Tensor | tf.Tensor[];

export function tfDtype(t: DataTypeName | undefined): tf.DataType {
  switch (t) {
    case 'DT_INT32': case 'DT_INT64': return 'int32';
    case 'DT_BOOL': return 'bool';
    case 'DT_STRING': return 'string';
    default: return 'float32';
  }
}

function ints(t: tf.Tensor): number[] {
  return Array.from(t.dataSync() as ArrayLike<number>, Number);
}

function axisOf(t: tf.Tensor, rank: number): number[] {
  return ints(t).map((a) => (a < 0 ? a + rank : a));
}

function reduce(fn: (x: tf.Tensor, axis: number[], keep: boolean) => tf.Tensor): OpImpl {
  return ([x, axis], node) => fn(x, axisOf(axis, x.rank), attrBool(node, 'keep_dims', false) || attrBool(node, 'keepDims', false));
}

function fusedActivation(x: tf.Tensor, op: string, node: NodeDefJson): tf.Tensor {
  switch (op) {
    case 'Relu': return tf.relu(x);
    case 'Relu6': return tf.relu6(x);
    case 'Elu': return tf.elu(x);
    case 'Sigmoid': return tf.sigmoid(x);
    case 'Tanh': return tf.tanh(x);
    case 'LeakyRelu': return tf.leakyRelu(x, attrFloat(node, 'leakyrelu_alpha', 0.2));
    default: throw new Error(`fused activation ${op} is not supported`);
  }
}

/** The fused_ops of _FusedMatMul / _FusedConv2D after the matmul/conv itself. */
function applyFused(y: tf.Tensor, args: tf.Tensor[], node: NodeDefJson): tf.Tensor {
  const ops = attrStringList(node, 'fused_ops');
  let argIdx = 0;
  for (const op of ops) {
    if (op === 'BiasAdd' || op === 'Add' || op === 'AddV2') y = tf.add(y, args[argIdx++]);
    else if (op === 'FusedBatchNorm') throw new Error('FusedBatchNorm inside a fused op is not supported');
    else y = fusedActivation(y, op, node);
  }
  return y;
}

/**
 * x·W with a 2-D W runs as one 2-D matmul over the flattened leading dims, with W transposed
 * explicitly: the wasm backend is an order of magnitude slower on batched or transposed operands.
 */
function matMul(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): tf.Tensor {
  if (b.rank === 2 && !ta) {
    const bb = tb ? tf.transpose(b) : b;
    if (a.rank === 2) return tf.matMul(a as tf.Tensor2D, bb as tf.Tensor2D);
    const lead = a.shape.slice(0, -1);
    const y = tf.matMul(tf.reshape(a, [-1, a.shape[a.rank - 1]]) as tf.Tensor2D, bb as tf.Tensor2D);
    return tf.reshape(y, [...lead, bb.shape[1] as number]);
  }
  // Batch matmul with broadcasting of leading dims.
  return tf.matMul(a, b, ta, tb);
}

const unary = (fn: (x: tf.Tensor) => tf.Tensor): OpImpl => ([x]) => fn(x);
const binary = (fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): OpImpl => ([a, b]) => fn(a, b);

export const OPS: Record<string, OpImpl> = {
  ...FUSED_OP_IMPLS,
  Identity: ([x]) => x,
  StopGradient: ([x]) => x,
  Snapshot: ([x]) => x,
  IdentityN: (xs) => xs,
  PreventGradient: ([x]) => x,
  MatMul: ([a, b], n) => matMul(a, b, attrBool(n, 'transpose_a', false), attrBool(n, 'transpose_b', false)),
  BatchMatMul: ([a, b], n) => matMul(a, b, attrBool(n, 'adj_x', false), attrBool(n, 'adj_y', false)),
  BatchMatMulV2: ([a, b], n) => matMul(a, b, attrBool(n, 'adj_x', false), attrBool(n, 'adj_y', false)),
  _FusedMatMul: ([a, b, ...args], n) => applyFused(matMul(a, b, attrBool(n, 'transpose_a', false), attrBool(n, 'transpose_b', false)), args, n),
  Einsum: (xs, n) => tf.einsum(attrString(n, 'equation', ''), ...xs),
  Add: binary(tf.add), AddV2: binary(tf.add), BiasAdd: binary(tf.add),
  AddN: (xs) => tf.addN(xs),
  Sub: binary(tf.sub), Mul: binary(tf.mul), RealDiv: binary(tf.div), Div: binary(tf.div),
  DivNoNan: binary(tf.divNoNan), FloorDiv: binary(tf.floorDiv), FloorMod: binary(tf.mod),
  Maximum: binary(tf.maximum), Minimum: binary(tf.minimum), Pow: binary(tf.pow),
  SquaredDifference: binary(tf.squaredDifference),
  Neg: unary(tf.neg), Exp: unary(tf.exp), Log: unary(tf.log), Sqrt: unary(tf.sqrt), Rsqrt: unary(tf.rsqrt),
  Square: unary(tf.square), Abs: unary(tf.abs), Tanh: unary(tf.tanh), Sigmoid: unary(tf.sigmoid),
  Relu: unary(tf.relu), Relu6: unary(tf.relu6), Elu: unary(tf.elu), Selu: unary(tf.selu),
  Softplus: unary(tf.softplus), Erf: unary(tf.erf), Sin: unary(tf.sin), Cos: unary(tf.cos),
  Reciprocal: unary(tf.reciprocal), Floor: unary(tf.floor), Ceil: unary(tf.ceil), Round: unary(tf.round),
  Sign: unary(tf.sign), Log1p: unary(tf.log1p), Expm1: unary(tf.expm1),
  LeakyRelu: ([x], n) => tf.leakyRelu(x, attrFloat(n, 'alpha', 0.2)),
  Softmax: ([x]) => tf.softmax(x),
  LogSoftmax: ([x]) => tf.logSoftmax(x),
  Mean: reduce(tf.mean), Sum: reduce(tf.sum), Max: reduce(tf.max), Min: reduce(tf.min), Prod: reduce(tf.prod),
  All: reduce(tf.all), Any: reduce(tf.any),
  ArgMax: ([x, axis]) => tf.argMax(x, ints(axis)[0]),
  Reshape: ([x, shape]) => tf.reshape(x, ints(shape)),
  Transpose: ([x, perm]) => tf.transpose(x, ints(perm)),
  ConcatV2: (xs) => tf.concat(xs.slice(0, -1), ints(xs[xs.length - 1])[0]),
  Concat: (xs) => tf.concat(xs.slice(1), ints(xs[0])[0]),
  Pack: (xs, n) => tf.stack(xs, attrInt(n, 'axis', 0)),
  Unpack: ([x], n) => tf.unstack(x, attrInt(n, 'axis', 0)),
  GatherV2: ([x, idx, axis], n) => tf.gather(x, tf.cast(idx, 'int32'), ints(axis)[0], attrInt(n, 'batch_dims', 0)),
  Gather: ([x, idx]) => tf.gather(x, tf.cast(idx, 'int32'), 0),
  StridedSlice: ([x, b, e, s], n) => stridedSlice(x, ints(b), ints(e), ints(s), n),
  Slice: ([x, b, s]) => tf.slice(x, ints(b), ints(s)),
  Shape: ([x]) => tf.tensor1d(x.shape, 'int32'),
  Rank: ([x]) => tf.scalar(x.rank, 'int32'),
  Size: ([x]) => tf.scalar(x.size, 'int32'),
  Cast: ([x], n) => tf.cast(x, tfDtype(attrType(n, 'DstT'))),
  ExpandDims: ([x, axis]) => tf.expandDims(x, ints(axis)[0]),
  Squeeze: ([x], n) => tf.squeeze(x, attrIntList(n, 'squeeze_dims', []).length ? attrIntList(n, 'squeeze_dims', []) : undefined),
  Fill: ([shape, v]) => tf.fill(ints(shape), (v.dataSync() as ArrayLike<number>)[0], v.dtype),
  Range: ([start, limit, delta], n) => tf.range((start.dataSync() as ArrayLike<number>)[0], (limit.dataSync() as ArrayLike<number>)[0],
    (delta.dataSync() as ArrayLike<number>)[0], tfDtype(attrType(n, 'Tidx')) === 'int32' ? 'int32' : 'float32'),
  Tile: ([x, reps]) => tf.tile(x, ints(reps)),
  BroadcastTo: ([x, shape]) => tf.broadcastTo(x, ints(shape)),
  Split: ([axis, x], n) => tf.split(x, attrInt(n, 'num_split', 1), ints(axis)[0]),
  SplitV: ([x, sizes, axis]) => tf.split(x, ints(sizes), ints(axis)[0]),
  OneHot: ([idx, depth, on, off]) => tf.oneHot(tf.cast(idx, 'int32'), ints(depth)[0], (on.dataSync() as ArrayLike<number>)[0], (off.dataSync() as ArrayLike<number>)[0]),
  Select: ([c, a, b]) => tf.where(c, a, b),
  SelectV2: ([c, a, b]) => tf.where(c, a, b),
  Less: binary(tf.less), LessEqual: binary(tf.lessEqual), Greater: binary(tf.greater),
  GreaterEqual: binary(tf.greaterEqual), Equal: binary(tf.equal), NotEqual: binary(tf.notEqual),
  LogicalAnd: binary(tf.logicalAnd), LogicalOr: binary(tf.logicalOr), LogicalNot: unary(tf.logicalNot),
  ZerosLike: unary(tf.zerosLike), OnesLike: unary(tf.onesLike),
  Conv2D: ([x, f], n) => conv2d(x, f, n),
  _FusedConv2D: ([x, f, ...args], n) => applyFused(conv2d(x, f, n), args, n),
  DepthwiseConv2dNative: ([x, f], n) => {
    const s = attrIntList(n, 'strides', [1, 1, 1, 1]);
    const d = attrIntList(n, 'dilations', [1, 1, 1, 1]);
    return tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, [s[1], s[2]], padding(n), 'NHWC', [d[1], d[2]]);
  },
  AvgPool: ([x], n) => pool(tf.avgPool, x, n),
  MaxPool: ([x], n) => pool(tf.maxPool, x, n),
  [MBQ_QUANTIZED_MATMUL_OP]: ([x, packed, scales, zeros], n) =>
    quantizedMatMul(x, packed, scales, zeros, quantizedMatMulAttrsOfJson(n.attr, `node "${n.name}"`)),
  ClipByValue: ([x, lo, hi]) => tf.clipByValue(x, (lo.dataSync() as ArrayLike<number>)[0], (hi.dataSync() as ArrayLike<number>)[0]),
};

/**
 * StridedSlice with unit strides as tf.slice (+ squeeze for shrink axes), which has a gradient
 * (tfjs has none for stridedSlice); anything else goes to tf.stridedSlice.
 */
function stridedSlice(x: tf.Tensor, begin: number[], end: number[], strides: number[], n: NodeDefJson): tf.Tensor {
  const bm = attrInt(n, 'begin_mask', 0); const em = attrInt(n, 'end_mask', 0);
  const ell = attrInt(n, 'ellipsis_mask', 0); const na = attrInt(n, 'new_axis_mask', 0); const sh = attrInt(n, 'shrink_axis_mask', 0);
  if (ell !== 0 || na !== 0 || strides.some((v) => v !== 1) || begin.length > x.rank || x.dtype !== 'float32') {
    return tf.stridedSlice(x, begin, end, strides, bm, em, ell, na, sh);
  }
  const start: number[] = []; const size: number[] = []; const squeeze: number[] = [];
  for (let a = 0; a < x.rank; a++) {
    const dim = x.shape[a];
    if (a >= begin.length) { start.push(0); size.push(dim); continue; }
    const norm = (v: number): number => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    let lo = bm & (1 << a) ? 0 : norm(begin[a]);
    let hi = em & (1 << a) ? dim : norm(end[a]);
    if (sh & (1 << a)) { lo = norm(begin[a]); hi = lo + 1; squeeze.push(a); }
    start.push(lo); size.push(Math.max(0, hi - lo));
  }
  const y = tf.slice(x, start, size);
  return squeeze.length ? tf.squeeze(y, squeeze) : y;
}

function padding(n: NodeDefJson): 'same' | 'valid' {
  const p = attrString(n, 'padding', 'VALID');
  if (p !== 'SAME' && p !== 'VALID') throw new Error(`padding ${p} is not supported`);
  return p === 'SAME' ? 'same' : 'valid';
}

function conv2d(x: tf.Tensor, f: tf.Tensor, n: NodeDefJson): tf.Tensor {
  if (attrString(n, 'data_format', 'NHWC') !== 'NHWC') throw new Error('only NHWC convolutions are supported');
  const s = attrIntList(n, 'strides', [1, 1, 1, 1]);
  const d = attrIntList(n, 'dilations', [1, 1, 1, 1]);
  return tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, [s[1], s[2]], padding(n), 'NHWC', [d[1], d[2]]);
}

function pool(fn: typeof tf.avgPool, x: tf.Tensor, n: NodeDefJson): tf.Tensor {
  const k = attrIntList(n, 'ksize', [1, 1, 1, 1]);
  const s = attrIntList(n, 'strides', [1, 1, 1, 1]);
  return fn(x as tf.Tensor4D, [k[1], k[2]], [s[1], s[2]], padding(n));
}

export const SUPPORTED_OPS: ReadonlySet<string> = new Set([...Object.keys(OPS), 'Const', 'Placeholder', 'NoOp']);
