/**
 * Round half to even: torch.round, tf.round, WGSL round() and Python's round() (banker's rounding);
 * JavaScript's Math.round rounds halves up. The one copy: the quantizers (ops), Qwen2-VL's
 * smart_resize (hf/qwen2_vl.ts) and the test references use it.
 */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
