/** Node overrides: a linear run with a replacement weight (search candidates) or as quantized (evaluation). */
import * as tf from '@tensorflow/tfjs-core';
import { quantizeActivationPerToken, quantizedMatMul } from '@tfjs-mbq/ops';
import type { GraphAnalysis, LinearInfo } from '../graph/analysis.js';
import type { NodeOverride } from '../graph/executor.js';
import type { LinearOverride } from '../search/types.js';
import { dequantizedTensor, type QuantizedLinear } from '../emit/quantize.js';

/**
 * Node overrides that run each quantized linear as the converter evaluates it: weight-only linears
 * with their dequantized float weight [N, K] (made from the packed codes per call); weight-activation linears through the packed kernel
 * itself (per-token activation rounding is discontinuous, so only the same arithmetic reproduces it).
 */
export function quantizedOverrides(analysis: GraphAnalysis, quantized: ReadonlyMap<string, QuantizedLinear>): Map<string, NodeOverride> {
  // Weight tensors are made per call and freed with its scope (issue 6 §5: a pass must not hold
  // every block's weights; on cpu a tensor over a Float32Array does not copy it).
  const out = new Map<string, NodeOverride>();
  for (const [node, q] of quantized) {
    const l = analysis.linears.get(node)!;
    out.set(node, (inputs) => tf.tidy(() => {
      if (q.actBits) {
        const p = tf.tensor2d(q.packed, [q.N, q.packed.length / q.N], 'int32');
        const sc = tf.tensor2d(q.scales, [q.N, q.K / q.groupSize]);
        const z = tf.tensor2d(q.zeros, [q.N, q.K / q.groupSize]);
        let y = quantizedMatMul(inputs[0], p, sc, z, { bits: q.bits, groupSize: q.groupSize, inFeatures: q.K, actBits: q.actBits as 0 | 8 });
        if (l.biasConst) y = tf.add(y, inputs[2]);
        return y;
      }
      return linearApply(l, inputs, { weight: dequantizedTensor(q) });
    }));
  }
  return out;
}

/** y = x·Wᵀ for an override weight [N, K], keeping x's leading dims; adds a fused bias. */
function linearApply(l: LinearInfo, inputs: tf.Tensor[], ov: LinearOverride): tf.Tensor {
  return tf.tidy(() => {
    const x = inputs[0];
    const lead = x.shape.slice(0, -1);
    // Same computation as search's applyLinearOverride, but with Wᵀ materialised: wasm's matmul
    // with a transposed operand is an order of magnitude slower.
    let x2: tf.Tensor2D = tf.reshape(x, [-1, l.K]);
    if (ov.inputScale) x2 = tf.div(x2, ov.inputScale);
    if (ov.actBits !== undefined) x2 = quantizeActivationPerToken(x2, { bits: ov.actBits }) as tf.Tensor2D;
    let y: tf.Tensor = tf.matMul(x2, tf.transpose(ov.weight));
    y = tf.reshape(y, [...lead, l.N]);
    if (l.biasConst) y = tf.add(y, inputs[2]);
    return y;
  });
}

/** Overrides that run each linear of `ovs` with its replacement weight. */
export function overridesFor(analysis: GraphAnalysis, ovs: ReadonlyMap<string, LinearOverride>): Map<string, NodeOverride> {
  const m = new Map<string, NodeOverride>();
  for (const [id, ov] of ovs) {
    const l = analysis.linears.get(id)!;
    m.set(id, (inputs) => linearApply(l, inputs, ov));
  }
  return m;
}
