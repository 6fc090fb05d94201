/**
 * The pre-norm ViT encoder layer CLIP and SigLIP share (layer_norm1, self_attn q/k/v/out_proj with
 * biases, layer_norm2, mlp fc1 -> act -> fc2), under `vision/layers.{i}` in the graph and
 * `<prefix>encoder.layers.{i}` in the checkpoint.
 */
import type { Ops } from '../graph/ops.js';
import { activation, encoderAttention, layerNorm, linear, type Activation } from '../graph/layers.js';
import type { WeightPlan } from './plan.js';

export interface VitEncoderConfig {
  hidden: number;
  mlp: number;
  heads: number;
  act: Activation;
  eps: number;
}

export function vitLayerWeights(w: WeightPlan, v: VitEncoderConfig, prefix: string, i: number): void {
  const p = `vision/layers.${i}`;
  const s = `${prefix}encoder.layers.${i}`;
  w.norm(`${p}/layer_norm1`, `${s}.layer_norm1`, v.hidden, true);
  for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) w.linear(`${p}/self_attn/${proj}`, `${s}.self_attn.${proj}`, v.hidden, v.hidden, true);
  w.norm(`${p}/layer_norm2`, `${s}.layer_norm2`, v.hidden, true);
  w.linear(`${p}/mlp/fc1`, `${s}.mlp.fc1`, v.hidden, v.mlp, true);
  w.linear(`${p}/mlp/fc2`, `${s}.mlp.fc2`, v.mlp, v.hidden, true);
}

export function vitLayer<T>(o: Ops<T>, v: VitEncoderConfig, i: number, x: T): T {
  const p = `vision/layers.${i}`;
  x = o.add(`${p}/residual_attn`, x, encoderAttention(o, `${p}/self_attn`, layerNorm(o, `${p}/layer_norm1`, x, v.eps), v.heads, v.hidden / v.heads));
  const h = layerNorm(o, `${p}/layer_norm2`, x, v.eps);
  return o.add(`${p}/residual_mlp`, x, linear(o, `${p}/mlp/fc2`, activation(o, v.act, `${p}/mlp/act`, linear(o, `${p}/mlp/fc1`, h, true)), true));
}

/** Non-overlapping patches of pixels [B, gh·ps, gw·ps, C] as rows [B, gh·gw, ps·ps·C] in (y, x, c) order (a stride-ps conv as a matmul). */
export function patchify<T>(o: Ops<T>, prefix: string, pixels: T, gh: number, gw: number, ps: number, channels: number): T {
  let x = o.reshape(`${prefix}/Reshape`, pixels, [-1, gh, ps, gw, ps, channels]);
  x = o.transpose(`${prefix}/Transpose`, x, [0, 1, 3, 2, 4, 5]);
  return o.reshape(`${prefix}/Reshape_1`, x, [-1, gh * gw, ps * ps * channels]);
}
