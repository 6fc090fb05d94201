import * as tf from '@tensorflow/tfjs-core';
import { MbqSiluGate, MbqSiluGateInputs } from '../kernel_names.js';
import { siluGateDims } from '../kernels/fused_common.js';
import { assertDtype, assertTensor } from './validate.js';

/** LLaMA's MLP gate in one kernel: x [..., 2I] = gate | up -> [..., I] = gate · sigmoid(gate) · up. No gradient. */
export function siluGate(x: tf.Tensor): tf.Tensor {
  const op = 'siluGate';
  assertTensor(op, 'x', x);
  assertDtype(op, 'x', x, 'float32');
  siluGateDims(x.shape);
  const inputs: MbqSiluGateInputs = { x };
  return tf.engine().runKernel(MbqSiluGate, inputs as unknown as tf.NamedTensorMap, {});
}
