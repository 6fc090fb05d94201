/**
 * WGSL programs of the fused decoder kernels (MbqRmsNorm, MbqAddRmsNorm, MbqSiluGate, MbqRope,
 * MbqAttention), run through backend.runWebGPUProgram like the backend's own kernels (program.ts). Row programs
 * (RMSNorm, attention) run one workgroup per row: their `main()` reads the workgroup's flat index
 * from `workgroupId`/`numWorkgroups` (so the backend may reshape a long dispatch), never returns
 * early (barriers stay in uniform control flow), and guards its writes instead.
 */
import { flatProgram, type FlatProgram } from './program.js';

/** A program with one workgroup of `workgroupSize` threads per unit (row); 2-D layout, `main()` without an index. */
export interface RowProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms: string;
  getUserCode(): string;
}

const UNIT = 'i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y + workgroupId.y * numWorkgroups.x + workgroupId.x)';

function rowProgram(o: { key: string; variableNames: string[]; outputShape: number[]; units: number; wg: number; uniforms: string; code: string }): RowProgram {
  return {
    variableNames: o.variableNames,
    outputShape: o.outputShape,
    shaderKey: `mbq_${o.key}`,
    dispatchLayout: { x: [1], y: [0] },
    dispatch: [Math.max(1, o.units), 1, 1],
    workgroupSize: [o.wg, 1, 1],
    uniforms: o.uniforms,
    getUserCode: () => o.code,
  };
}

/** Tree reduction over `red` (size wg) with op `f`, result in red[0]; ends with a barrier. */
const reduce = (wg: number, f: (a: string, b: string) => string): string => `
  for (var hh = ${wg / 2}; hh > 0; hh = hh / 2) {
    if (t < hh) { red[t] = ${f('red[t]', 'red[t + hh]')}; }
    workgroupBarrier();
  }`;

/** The residual a row program adds: none, added (`res`), or added and the sum also written (to `sum`). */
export type Residual = 'none' | 'add' | 'add-write-sum';

/** Name of MbqAddRmsNorm's sum output in the one-dispatch program (direct_dispatch.ts binds it after `result`). */
export const SUM_OUTPUT = 'sum';

/**
 * x [rows, C] -> y [rows, C]; uniforms rows, eps. With a residual the row is x + res (the f32
 * sum, as the add program writes it), re-added per element rather than read back; 'add-write-sum'
 * also writes that sum to `sum`: MbqAddRmsNorm in one dispatch (the direct path only, as it has
 * two outputs); 'add' is its y alone, after the add program on runWebGPUProgram.
 */
export function rmsNormProgram(rows: number, C: number, residual: Residual = 'none'): RowProgram {
  const WG = 256;
  const v = (i: string): string => (residual === 'none' ? `x[${i}]` : `(x[${i}] + res[${i}])`);
  const write = residual === 'add-write-sum'
    ? `let v = ${v('base + c')}; ${SUM_OUTPUT}[base + c] = v; result[base + c] = v * inv * gamma[c];`
    : `result[base + c] = ${v('base + c')} * inv * gamma[c];`;
  return rowProgram({
    key: `${{ none: '', add: 'add_', 'add-write-sum': 'add_sum_' }[residual]}rmsnorm_c${C}`,
    variableNames: residual === 'none' ? ['x', 'gamma'] : ['x', 'res', 'gamma'],
    outputShape: [rows, C],
    units: rows,
    wg: WG,
    uniforms: 'rows : i32, eps : f32,',
    code: `
var<workgroup> red: array<f32, ${WG}>;
fn main() {
  let t = i32(localIndex);
  let unit = ${UNIT};
  let valid = unit < uniforms.rows;
  let base = min(unit, uniforms.rows - 1) * ${C};
  var ss = 0.0;
  for (var c = t; c < ${C}; c += ${WG}) { let v = ${v('base + c')}; ss += v * v; }
  red[t] = ss;
  workgroupBarrier();
  ${reduce(WG, (a, b) => `${a} + ${b}`)}
  let inv = inverseSqrt(red[0] / f32(${C}) + uniforms.eps);
  if (valid) {
    for (var c = t; c < ${C}; c += ${WG}) { ${write} }
  }
}`,
  });
}

/** x, res [n] -> x + res (MbqAddRmsNorm's sum output). */
export function addProgram(n: number): FlatProgram {
  return flatProgram({ key: 'add', variableNames: ['x', 'res'], outputShape: [n], body: 'result[index] = x[index] + res[index];' });
}

/** x [rows, 2I] -> y [rows, I] = silu(gate) · up. */
export function siluGateProgram(rows: number, I: number): FlatProgram {
  return flatProgram({
    key: 'silu_gate',
    variableNames: ['x'],
    outputShape: [rows, I],
    uniforms: 'hw : i32,',
    body: `
    let r = index / uniforms.hw;
    let i = index % uniforms.hw;
    let g = x[r * 2 * uniforms.hw + i];
    result[index] = g / (1.0 + exp(-g)) * x[r * 2 * uniforms.hw + uniforms.hw + i];`,
  });
}

/** x [rows, L] -> y [rows, L]; cos/sin [cosRows, d]; uniforms l, d, heads, cosRows. */
export function ropeProgram(rows: number, L: number): FlatProgram {
  return flatProgram({
    key: 'rope',
    variableNames: ['x', 'cs', 'sn'],
    outputShape: [rows, L],
    uniforms: 'l : i32, d : i32, heads : i32, cosRows : i32,',
    body: `
    let r = index / uniforms.l;
    let col = index % uniforms.l;
    if (col / uniforms.d >= uniforms.heads) {
      result[index] = x[index];
    } else {
      let hd = uniforms.d / 2;
      let j = col % uniforms.d;
      let cr = (r % uniforms.cosRows) * uniforms.d + j;
      var rot = 0.0;
      if (j < hd) { rot = -x[index + hd]; } else { rot = x[index - hd]; }
      result[index] = x[index] * cs[cr] + rot * sn[cr];
    }`,
  });
}

/**
 * One workgroup of 64 threads per (b, i, h): keys in chunks of 64 (one score per thread), an
 * online softmax (running max and sum, rescaled per chunk), each thread accumulating its own
 * output dims c = t, t + 64, ... over the chunk's weights from shared memory. Uniforms units
 * (B·Sq·H), sq, sk, scale; H, KV and d baked in.
 */
export function attentionProgram(B: number, Sq: number, H: number, KV: number, d: number): RowProgram {
  const WG = 64;
  const DPT = Math.ceil(d / WG);
  return rowProgram({
    key: `attention_h${H}_kv${KV}_d${d}`,
    variableNames: ['q', 'kc', 'vc', 'msk'],
    outputShape: [B * Sq, H * d],
    units: B * Sq * H,
    wg: WG,
    uniforms: 'units : i32, sq : i32, sk : i32, scale : f32,',
    code: `
var<workgroup> red: array<f32, ${WG}>;
var<workgroup> pw: array<f32, ${WG}>;
fn main() {
  let t = i32(localIndex);
  let unit = ${UNIT};
  let valid = unit < uniforms.units;
  let w = min(unit, uniforms.units - 1);
  let h = w % ${H};
  let bi = w / ${H};
  let i = bi % uniforms.sq;
  let b = bi / uniforms.sq;
  let g = h / ${H / KV};
  let qo = bi * ${H * d} + h * ${d};
  let sk = uniforms.sk;
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, ${DPT}>;
  for (var j0 = 0; j0 < sk; j0 += ${WG}) {
    let j = j0 + t;
    var s = -3.0e38;
    if (j < sk) {
      let ko = (b * sk + j) * ${KV * d} + g * ${d};
      var dot = 0.0;
      for (var c = 0; c < ${d}; c++) { dot += q[qo + c] * kc[ko + c]; }
      s = dot * uniforms.scale + msk[i * sk + j];
    }
    red[t] = s;
    workgroupBarrier();
    ${reduce(WG, (a, b2) => `max(${a}, ${b2})`)}
    let mNew = max(m, red[0]);
    var p = 0.0;
    if (j < sk) { p = exp(s - mNew); }
    workgroupBarrier();
    pw[t] = p;
    red[t] = p;
    workgroupBarrier();
    ${reduce(WG, (a, b2) => `${a} + ${b2}`)}
    let corr = exp(m - mNew);
    l = l * corr + red[0];
    let n = min(${WG}, sk - j0);
    for (var r = 0; r < ${DPT}; r++) {
      let c = t + r * ${WG};
      if (c < ${d}) {
        var a = acc[r] * corr;
        for (var jj = 0; jj < n; jj++) { a += pw[jj] * vc[(b * sk + j0 + jj) * ${KV * d} + g * ${d} + c]; }
        acc[r] = a;
      }
    }
    m = mNew;
    workgroupBarrier();
  }
  if (valid) {
    for (var r = 0; r < ${DPT}; r++) {
      let c = t + r * ${WG};
      if (c < ${d}) { result[qo + c] = acc[r] / l; }
    }
  }
}`,
  });
}
