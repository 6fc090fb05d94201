/**
 * Graph-model op `MbqQuantizedMatMul` (docs/architecture.md): inputs [x, packed, scales, zeros],
 * attrs bits, group_size, in_features, optional act_bits. Registered with tf.registerOp so that
 * tf.loadGraphModel / GraphModel.execute run such nodes through quantizedMatMul.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { registerOp } from '@tensorflow/tfjs-converter';
import type { GraphNode } from '@tensorflow/tfjs-converter';
import { quantizedMatMul } from '../ops/quantized_matmul.js';

export const MBQ_QUANTIZED_MATMUL_OP = 'MbqQuantizedMatMul';

function intAttr(node: GraphNode, name: string, fallback?: number): number {
  const v = node.attrs[name];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new Error(`${MBQ_QUANTIZED_MATMUL_OP} node: attr '${name}' must be an integer (type "i"), got ${JSON.stringify(v)}`);
  }
  return v;
}

export function executeMbqQuantizedMatMul(node: GraphNode): tf.Tensor {
  if (node.inputs.length !== 4) {
    throw new Error(`${MBQ_QUANTIZED_MATMUL_OP} node: expected 4 inputs [x, packed, scales, zeros], got ${node.inputs.length}`);
  }
  const [x, packed, scales, zeros] = node.inputs;
  const actBits = intAttr(node, 'act_bits', 0);
  if (actBits !== 0 && actBits !== 8) throw new Error(`${MBQ_QUANTIZED_MATMUL_OP} node: act_bits must be 0 or 8, got ${actBits}`);
  return quantizedMatMul(x, packed, scales, zeros, {
    bits: intAttr(node, 'bits'), groupSize: intAttr(node, 'group_size'), inFeatures: intAttr(node, 'in_features'), actBits,
  });
}

export function registerMbqQuantizedMatMulGraphOp(): void {
  registerOp(MBQ_QUANTIZED_MATMUL_OP, executeMbqQuantizedMatMul);
}
