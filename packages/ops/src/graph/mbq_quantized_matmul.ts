/**
 * Graph-model op `MbqQuantizedMatMul` (docs/architecture.md): inputs [x, packed, scales, zeros],
 * attrs as `@tfjs-mbq/format` decodes them. Registered with tf.registerOp so that
 * tf.loadGraphModel / GraphModel.execute run such nodes through quantizedMatMul.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { registerOp } from '@tensorflow/tfjs-converter';
import type { GraphNode } from '@tensorflow/tfjs-converter';
import { decodeQuantizedMatMulAttrs, MBQ_QUANTIZED_MATMUL_OP } from '@tfjs-mbq/format';
import { quantizedMatMul } from '../ops/quantized_matmul.js';

export { MBQ_QUANTIZED_MATMUL_OP };

function executeMbqQuantizedMatMul(node: GraphNode): tf.Tensor {
  const where = `${MBQ_QUANTIZED_MATMUL_OP} node`;
  if (node.inputs.length !== 4) {
    throw new Error(`${where}: expected 4 inputs [x, packed, scales, zeros], got ${node.inputs.length}`);
  }
  const [x, packed, scales, zeros] = node.inputs;
  return quantizedMatMul(x, packed, scales, zeros, decodeQuantizedMatMulAttrs((name) => node.attrs[name], where));
}

export function registerMbqQuantizedMatMulGraphOp(): void {
  registerOp(MBQ_QUANTIZED_MATMUL_OP, executeMbqQuantizedMatMul);
}
