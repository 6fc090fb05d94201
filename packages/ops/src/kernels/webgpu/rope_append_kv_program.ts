/**
 * WGSL of MbqRopeAppendKv: one flat program over q's elements then the new caches' (one
 * invocation writes one q element, or one element of both k and v), so RoPE, the q/k/v split
 * and the cache append are one dispatch. That program writes three outputs (`result` = q, then
 * K_OUTPUT and V_OUTPUT), which only the direct path binds (direct_dispatch.ts); where it does
 * not run, the same code runs as three one-output programs ('q', 'k', 'v').
 */
import { flatProgram, type FlatProgram } from './program.js';

/** Names of the k and v outputs in the one-dispatch program. */
export const K_OUTPUT = 'kc';
export const V_OUTPUT = 'vc';

/** 'all': q, k and v in one program; 'q' | 'k' | 'v': that output alone, as `result`. */
export type RopeAppendKvPart = 'all' | 'q' | 'k' | 'v';

/**
 * Inputs (variableNames, those the part reads of) x (qkv, flat), cs, sn ([cosRows, d], flat)
 * and, with `past`, kp, vp (the caches so far).
 * Uniforms: qn (q's size), q (H·d), kw (KV·d), c ((H + 2·KV)·d), s, p (cached positions), t (p +
 * s), d, cosRows. `n`: the elements the program covers (qn + B·t·kw for 'all').
 */
export function ropeAppendKvProgram(part: RopeAppendKvPart, n: number, past: boolean): FlatProgram {
  // Rotate-half of x[xi] (channel col of its row's part, row r of qkv), as ropeProgram computes it.
  const helpers = `
  fn rotAt(xi : i32, col : i32, r : i32) -> f32 {
    let hd = uniforms.d / 2;
    let j = col % uniforms.d;
    let cr = (r % uniforms.cosRows) * uniforms.d + j;
    var rt = 0.0;
    if (j < hd) { rt = -x[xi + hd]; } else { rt = x[xi - hd]; }
    return x[xi] * cs[cr] + rt * sn[cr];
  }`;
  const qCode = (dst: string, i: string): string => `
      let r = ${i} / uniforms.q;
      let col = ${i} % uniforms.q;
      ${dst}[${i}] = rotAt(r * uniforms.c + col, col, r);`;
  // Element j of the new caches: row b·t + pos; a cached row is copied, a new one read from qkv.
  const kvCode = (k: string | null, v: string | null, j: string): string => {
    const fresh = `
        let xr = b * uniforms.s + pos - uniforms.p;
        let xi = xr * uniforms.c + uniforms.q + col;
        ${k ? `${k}[${j}] = rotAt(xi, col, xr);` : ''}
        ${v ? `${v}[${j}] = x[xi + uniforms.kw];` : ''}`;
    return `
      let row = ${j} / uniforms.kw;
      let col = ${j} % uniforms.kw;
      let b = row / uniforms.t;
      let pos = row % uniforms.t;
      ${past ? `if (pos < uniforms.p) {
        let pi = (b * uniforms.p + pos) * uniforms.kw + col;
        ${k ? `${k}[${j}] = kp[pi];` : ''}
        ${v ? `${v}[${j}] = vp[pi];` : ''}
      } else {${fresh}
      }` : fresh}`;
  };
  const body = {
    all: `
    if (index < uniforms.qn) {${qCode('result', 'index')}
    } else {
      let jj = index - uniforms.qn;${kvCode(K_OUTPUT, V_OUTPUT, 'jj')}
    }`,
    q: qCode('result', 'index'),
    k: kvCode('result', null, 'index'),
    v: kvCode(null, 'result', 'index'),
  }[part];
  // Only what the part reads: runWebGPUProgram's pipelines take their layout from the shader, which drops unused bindings.
  const variableNames = {
    all: ['x', 'cs', 'sn', ...(past ? ['kp', 'vp'] : [])],
    q: ['x', 'cs', 'sn'],
    k: ['x', 'cs', 'sn', ...(past ? ['kp'] : [])],
    v: ['x', ...(past ? ['vp'] : [])],
  }[part];
  return flatProgram({
    key: `rope_append_kv_${part}${past ? '_past' : ''}`,
    variableNames,
    outputShape: [n],
    uniforms: 'qn : i32, q : i32, kw : i32, c : i32, s : i32, p : i32, t : i32, d : i32, cosRows : i32,',
    helpers: part === 'v' ? '' : helpers,
    body,
  });
}
