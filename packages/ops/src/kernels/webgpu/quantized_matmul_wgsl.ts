/**
 * WGSL generators for the fused dequantize+matmul (MbqQuantizedMatMul), written as the user code
 * of tfjs-webgpu programs (quantized_matmul_programs.ts): tfjs declares the bindings (`result`
 * [M, N] f32; inputs `x`, `packed`, `scales`, `zeros`, act8 `xs`, as vec4 or scalar arrays per
 * the program's variableComponents, i32 for int32 tensors, hence the bitcasts), the `uniforms`
 * struct and the `_start` entry that sets `localIndex`, `workgroupId`, `numWorkgroups` and
 * calls `main()`. Shapes, bit width and group size are baked in as constants (one pipeline per
 * linear layer shape), so index arithmetic folds and the 128-code decode is fully unrolled;
 * only M is read at run time (`uniforms.m`).
 *
 * Variants:
 * - gemv:    K % 128 == 0 and groupSize % 8 == 0. A team of TS threads owns R output rows; each
 *            thread walks 128-code superblocks (`bits` vec4<u32> per row, so every thread issues
 *            16-byte loads and a team reads a row contiguously), decodes codes with shifts
 *            and a float bit trick, and accumulates MT tokens at once (MT = 1..8) so the
 *            weights are read once for up to 8 rows of x. Shared-memory reduction across
 *            the team at the end. Per group span: acc += s * (Σ q·x − z · Σ x).
 * - smallm:  float activations, M = 2..8 by default (quantized_matmul_smallm_wgsl.ts): each code
 *            decoded once for up to 8 tokens, x staged in workgroup memory per K tile.
 * - gemm:    K % 32 == 0 and groupSize % 8 == 0, large M. 64×64 output tile per workgroup,
 *            K step 32: x tile and the dequantized weight tile go through shared memory,
 *            each thread computes 4×4 outputs.
 * - generic: any shape; one workgroup of 64 threads per output element.
 * - onepass: W4A8 with M <= 8 by default (quantized_matmul_onepass_wgsl.ts): one dispatch, each
 *            workgroup quantizes its tokens itself. Otherwise:
 * - act8 (W4A8): a pre-pass quantizes x per token to int8 (packed 4 per u32 in the order the
 *            4-bit weight nibbles come out of a word), then gemv/generic variants with
 *            integer dot products: dot4I8Packed where the adapter has the WGSL language
 *            feature packed_4x8_integer_dot_product, an exact shift-and-multiply emulation
 *            otherwise. Integer sums are exact, so both give identical results.
 */
import { wordsPerRow } from '../../packing.js';

export interface QmmShape {
  bits: number;
  K: number;
  N: number;
  groupSize: number;
}

export interface GemvConfig {
  /** Tokens (rows of x) per workgroup, 1..8. */
  MT: number;
  /** Output rows per team. */
  R: number;
  /** Threads per team (along K). */
  TS: number;
  /** Threads per workgroup. */
  WG: number;
}

const u = (v: number): string => `${v >>> 0}u`;
const COMP = ['x', 'y', 'z', 'w'];

/**
 * Words per token of int8-quantized activations (act8): two u32 per octet of 8 inputs. The
 * act-quant pre-pass writes them for all M tokens, followed by the M per-token scales (f32 bits).
 */
export function act8Words(K: number): number {
  return 2 * Math.ceil(K / 8);
}

/** Octets (8 codes) of a 128-code superblock that share one (scale, zero) pair. */
function spanLength(groupSize: number): number {
  if (groupSize % 128 === 0) return 128;
  if (128 % groupSize === 0) return groupSize;
  return 8;
}

export function gemvSupported(s: QmmShape): boolean {
  return s.K % 128 === 0 && s.groupSize % 8 === 0;
}

export function gemmSupported(s: QmmShape): boolean {
  return s.K % 32 === 0 && s.groupSize % 8 === 0;
}

/** Expression for code i (0..127) of a superblock whose words are `${w}_${vec4}.${comp}`. */
function codeExpr(w: string, bits: number, i: number): string {
  const p = i * bits;
  const t = p >> 5;
  const off = p & 31;
  const word = (j: number): string => `${w}_${j >> 2}.${COMP[j & 3]}`;
  const mask = u((1 << bits) - 1);
  if (off + bits <= 32) {
    const shifted = off === 0 ? word(t) : `(${word(t)} >> ${u(off)})`;
    return off + bits === 32 ? shifted : `(${shifted} & ${mask})`;
  }
  return `(((${word(t)} >> ${u(off)}) | (${word(t + 1)} << ${u(32 - off)})) & ${mask})`;
}

const DOT4_EMULATION = `
fn dp4(a: u32, b: u32) -> i32 {
  return (bitcast<i32>(a << 24u) >> 24u) * (bitcast<i32>(b << 24u) >> 24u)
       + (bitcast<i32>(a << 16u) >> 24u) * (bitcast<i32>(b << 16u) >> 24u)
       + (bitcast<i32>(a << 8u) >> 24u) * (bitcast<i32>(b << 8u) >> 24u)
       + (bitcast<i32>(a) >> 24u) * (bitcast<i32>(b) >> 24u);
}`;
const DOT4_NATIVE = `
fn dp4(a: u32, b: u32) -> i32 { return dot4I8Packed(a, b); }`;

/**
 * The code-to-float helper and the start of main() shared by the kernels that give each team of
 * TS threads R rows (gemv, smallm): the thread's team and lane, its first row, its first token.
 */
export function teamKernelStart(ROWS: number, R: number, TS: number, MT: number): string[] {
  return [
    // Exact u32 -> f32 for codes < 2^23 without a conversion instruction.
    'fn cvt(q: u32) -> f32 { return bitcast<f32>(q | 0x4b000000u) - 8388608.0; }',
    'fn main() {',
    '  let tid = localIndex;',
    '  let wid = workgroupId;',
    '  let M = u32(uniforms.m);',
    `  let team = tid / ${u(TS)};`,
    `  let lane = tid % ${u(TS)};`,
    `  let row0 = wid.x * ${u(ROWS)} + team * ${u(R)};`,
    `  let m0 = wid.y * ${u(MT)};`,
  ];
}

/** Fused dequant + GEMV / small-M matmul (float activations, or int8 with act8). */
export function gemvShader(s: QmmShape, c: GemvConfig, act8: boolean, nativeDot4: boolean): string {
  const { bits, K, N, groupSize } = s;
  const { MT, R, TS, WG } = c;
  if (!gemvSupported(s)) throw new Error('gemvShader: needs K % 128 == 0 and groupSize % 8 == 0');
  if (act8 && bits !== 4) throw new Error('gemvShader: act8 needs bits = 4');
  const SB = K / 128;
  const G = K / groupSize;
  const TEAMS = WG / TS;
  const ROWS = TEAMS * R;
  const OUT = MT * R;
  const STRIDE = TEAMS * OUT + 1;
  const span = spanLength(groupSize);
  // x row length in vec4: float x has K/4; act8 x (int8 packed 4 per word) has K/16.
  const XV = act8 ? K / 16 : K / 4;
  const XW = act8Words(K);
  const L: string[] = [];
  L.push(`// qmm gemv bits=${bits} K=${K} N=${N} g=${groupSize} MT=${MT} R=${R} TS=${TS} WG=${WG} act8=${act8}`);
  L.push(`var<workgroup> red: array<f32, ${TS * STRIDE}>;`);
  if (act8) L.push(nativeDot4 ? DOT4_NATIVE : DOT4_EMULATION);
  L.push(...teamKernelStart(ROWS, R, TS, MT));
  for (let r = 0; r < R; r++) L.push(`  let n${r} = min(row0 + ${u(r)}, ${u(N - 1)});`);
  for (let m = 0; m < MT; m++) L.push(`  let xr${m} = min(m0 + ${u(m)}, M - 1u) * ${u(XV)};`);
  for (let m = 0; m < MT; m++) for (let r = 0; r < R; r++) L.push(`  var acc${m}_${r} = 0.0;`);
  L.push(`  for (var sb = lane; sb < ${u(SB)}; sb += ${u(TS)}) {`);
  for (let r = 0; r < R; r++) {
    L.push(`    let wb${r} = n${r} * ${u(SB * bits)} + sb * ${u(bits)};`);
    for (let j = 0; j < bits; j++) L.push(`    let w${r}_${j} = bitcast<vec4<u32>>(packed[wb${r} + ${u(j)}]);`);
  }
  L.push(`    let xb = sb * ${u(act8 ? 8 : 32)};`);
  for (let s0 = 0; s0 < 128; s0 += span) {
    L.push('    {');
    L.push(`      let gi = (sb * 128u + ${u(s0)}) / ${u(groupSize)};`);
    for (let r = 0; r < R; r++) {
      L.push(`      let s${r} = scales[n${r} * ${u(G)} + gi];`);
      L.push(`      let z${r} = zeros[n${r} * ${u(G)} + gi];`);
    }
    if (act8) {
      for (let m = 0; m < MT; m++) {
        L.push(`      var sq${m} = 0i;`);
        for (let r = 0; r < R; r++) L.push(`      var d${m}_${r} = 0i;`);
      }
    } else {
      for (let m = 0; m < MT; m++) {
        L.push(`      var sx${m} = vec4<f32>(0.0);`);
        for (let r = 0; r < R; r++) L.push(`      var d${m}_${r} = vec4<f32>(0.0);`);
      }
    }
    for (let o = s0 / 8; o < (s0 + span) / 8; o++) {
      if (act8) {
        // Octet o = weight word o of the superblock; x words 2o (even codes), 2o+1 (odd codes).
        for (let m = 0; m < MT; m++) {
          const v = `bitcast<vec4<u32>>(x[xr${m} + xb + ${u(o >> 1)}])`;
          L.push(`      let xe${m}_${o} = ${v}.${COMP[(2 * o) & 3]};`);
          L.push(`      let xo${m}_${o} = ${v}.${COMP[(2 * o + 1) & 3]};`);
          L.push(`      sq${m} += dp4(xe${m}_${o}, 0x01010101u) + dp4(xo${m}_${o}, 0x01010101u);`);
        }
        for (let r = 0; r < R; r++) {
          const word = `w${r}_${o >> 2}.${COMP[o & 3]}`;
          L.push(`      let lo${r}_${o} = ${word} & 0x0f0f0f0fu;`);
          L.push(`      let hi${r}_${o} = (${word} >> 4u) & 0x0f0f0f0fu;`);
          for (let m = 0; m < MT; m++) {
            L.push(`      d${m}_${r} += dp4(lo${r}_${o}, xe${m}_${o}) + dp4(hi${r}_${o}, xo${m}_${o});`);
          }
        }
      } else {
        for (let m = 0; m < MT; m++) {
          L.push(`      let xa${m}_${o} = x[xr${m} + xb + ${u(2 * o)}];`);
          L.push(`      let xc${m}_${o} = x[xr${m} + xb + ${u(2 * o + 1)}];`);
          L.push(`      sx${m} += xa${m}_${o} + xc${m}_${o};`);
        }
        for (let r = 0; r < R; r++) {
          const q = (i: number): string => `cvt(${codeExpr(`w${r}`, bits, o * 8 + i)})`;
          L.push(`      let qa${r}_${o} = vec4<f32>(${q(0)}, ${q(1)}, ${q(2)}, ${q(3)});`);
          L.push(`      let qc${r}_${o} = vec4<f32>(${q(4)}, ${q(5)}, ${q(6)}, ${q(7)});`);
          for (let m = 0; m < MT; m++) {
            L.push(`      d${m}_${r} = fma(qa${r}_${o}, xa${m}_${o}, fma(qc${r}_${o}, xc${m}_${o}, d${m}_${r}));`);
          }
        }
      }
    }
    for (let m = 0; m < MT; m++) {
      for (let r = 0; r < R; r++) {
        if (act8) {
          L.push(`      acc${m}_${r} += s${r} * f32(d${m}_${r} - i32(z${r}) * sq${m});`);
        } else {
          L.push(`      acc${m}_${r} += s${r} * (dot(d${m}_${r}, vec4<f32>(1.0)) - z${r} * dot(sx${m}, vec4<f32>(1.0)));`);
        }
      }
    }
    L.push('    }');
  }
  L.push('  }');
  for (let m = 0; m < MT; m++) {
    for (let r = 0; r < R; r++) L.push(`  red[lane * ${u(STRIDE)} + team * ${u(OUT)} + ${u(m * R + r)}] = acc${m}_${r};`);
  }
  L.push('  workgroupBarrier();');
  L.push(`  for (var o = tid; o < ${u(TEAMS * OUT)}; o += ${u(WG)}) {`);
  L.push('    var sum = 0.0;');
  L.push(`    for (var l = 0u; l < ${u(TS)}; l++) { sum += red[l * ${u(STRIDE)} + o]; }`);
  L.push(`    let i = o % ${u(OUT)};`);
  L.push(`    let n = wid.x * ${u(ROWS)} + (o / ${u(OUT)}) * ${u(R)} + i % ${u(R)};`);
  L.push(`    let m = m0 + i / ${u(R)};`);
  L.push(`    if (n < ${u(N)} && m < M) { result[m * ${u(N)} + n] = sum${act8 ? ` * bitcast<f32>(xs[M * ${u(XW)} + m])` : ''}; }`);
  L.push('  }');
  L.push('}');
  return L.join('\n');
}

/** Tiled dequantize + GEMM for large M (float activations): 64×64 tile, K step 32. */
export function gemmShader(s: QmmShape): string {
  const { bits, K, N, groupSize } = s;
  if (!gemmSupported(s)) throw new Error('gemmShader: needs K % 32 == 0 and groupSize % 8 == 0');
  const WPR = (K * bits) / 32;
  const G = K / groupSize;
  return `// qmm gemm bits=${bits} K=${K} N=${N} g=${groupSize}
// [k][m/4] and [k][n/4]: the inner loop reads one vec4 of each per k.
var<workgroup> xt: array<vec4<f32>, 512>;
var<workgroup> wt: array<vec4<f32>, 512>;
fn main() {
  let tid = localIndex;
  let wid = workgroupId;
  let M = u32(uniforms.m);
  let bn0 = wid.x * 64u;
  let bm0 = wid.y * 64u;
  let tx = tid % 16u;
  let ty = tid / 16u;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  // Weight tile: thread = (row, octet of 8 codes); its 8*bits bits lie in words t0, t0 + 1.
  let wrow = tid / 4u;
  let oct = tid % 4u;
  let wn = min(bn0 + wrow, ${u(N - 1)});
  let bit0 = oct * ${u(8 * bits)};
  let t0 = bit0 / 32u;
  for (var kt = 0u; kt < ${u(K / 32)}; kt++) {
    for (var e = 0u; e < 2u; e++) {
      let idx = tid + e * 256u;
      let mr = idx / 8u;
      let kq = idx % 8u;
      let v = x[min(bm0 + mr, M - 1u) * ${u(K / 4)} + kt * 8u + kq];
      let col = mr / 4u;
      let c = mr % 4u;
      xt[(kq * 4u + 0u) * 16u + col][c] = v.x;
      xt[(kq * 4u + 1u) * 16u + col][c] = v.y;
      xt[(kq * 4u + 2u) * 16u + col][c] = v.z;
      xt[(kq * 4u + 3u) * 16u + col][c] = v.w;
    }
    let wb = wn * ${u(WPR)} + kt * ${u(bits)} + t0;
    // 8 codes span at most 8 * 8 + 31 bits: three words cover every bit width.
    let lo = bitcast<u32>(packed[wb]);
    let mid = bitcast<u32>(packed[min(wb + 1u, ${u(N * WPR - 1)})]);
    let hi = bitcast<u32>(packed[min(wb + 2u, ${u(N * WPR - 1)})]);
    let gi = (kt * 32u + oct * 8u) / ${u(groupSize)};
    let s = scales[wn * ${u(G)} + gi];
    let z = zeros[wn * ${u(G)} + gi];
    for (var i = 0u; i < 8u; i++) {
      let b = bit0 + i * ${u(bits)} - t0 * 32u;
      var q: u32;
      if (b >= 64u) {
        q = hi >> (b - 64u);
      } else if (b > 32u) {
        q = (mid >> (b - 32u)) | (hi << (64u - b));
      } else if (b == 32u) {
        q = mid;
      } else if (b == 0u) {
        q = lo;
      } else {
        q = (lo >> b) | (mid << (32u - b));
      }
      q = q & ${u((1 << bits) - 1)};
      wt[(oct * 8u + i) * 16u + wrow / 4u][wrow % 4u] = (f32(q) - z) * s;
    }
    workgroupBarrier();
    for (var k = 0u; k < 32u; k++) {
      let a = xt[k * 16u + ty];
      let b = wt[k * 16u + tx];
      acc0 = fma(vec4<f32>(a.x), b, acc0);
      acc1 = fma(vec4<f32>(a.y), b, acc1);
      acc2 = fma(vec4<f32>(a.z), b, acc2);
      acc3 = fma(vec4<f32>(a.w), b, acc3);
    }
    workgroupBarrier();
  }
  let n0 = bn0 + tx * 4u;
  var accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let m = bm0 + ty * 4u + i;
    if (m < M) {
      for (var j = 0u; j < 4u; j++) {
        if (n0 + j < ${u(N)}) { result[m * ${u(N)} + n0 + j] = accs[i][j]; }
      }
    }
  }
}`;
}

/** Any shape: one workgroup of 64 threads per output element (slow; odd shapes only). */
export function genericShader(s: QmmShape, act8: boolean, nativeDot4: boolean): string {
  const { bits, K, N, groupSize } = s;
  const WPR = wordsPerRow(K, bits);
  const G = K / groupSize;
  const W8 = act8Words(K);
  const term = act8
    ? `let xw = bitcast<u32>(x[m * ${u(W8)} + 2u * (k / 8u) + (k % 2u)]);
      let qx = bitcast<i32>(xw << (24u - 8u * ((k % 8u) / 2u))) >> 24u;
      acc += f32(qx * (i32(q) - i32(z))) * s;`
    : `acc += x[m * ${u(K)} + k] * ((f32(q) - z) * s);`;
  return `// qmm generic bits=${bits} K=${K} N=${N} g=${groupSize} act8=${act8} dot4=${nativeDot4}
var<workgroup> red: array<f32, 64>;
fn main() {
  let tid = localIndex;
  let wid = workgroupId;
  let nwg = numWorkgroups;
  let M = u32(uniforms.m);
  let n = wid.x + wid.y * nwg.x;
  let m = wid.z;
  let nr = min(n, ${u(N - 1)});
  var acc = 0.0;
  for (var k = tid; k < ${u(K)}; k += 64u) {
    let p = k * ${u(bits)};
    let t = nr * ${u(WPR)} + p / 32u;
    let off = p % 32u;
    var q = bitcast<u32>(packed[t]) >> off;
    if (off + ${u(bits)} > 32u) { q = q | (bitcast<u32>(packed[t + 1u]) << (32u - off)); }
    q = q & ${u((1 << bits) - 1)};
    let gi = nr * ${u(G)} + k / ${u(groupSize)};
    let s = scales[gi];
    let z = zeros[gi];
    ${term}
  }
  red[tid] = acc;
  workgroupBarrier();
  for (var h = 32u; h > 0u; h = h / 2u) {
    if (tid < h) { red[tid] += red[tid + h]; }
    workgroupBarrier();
  }
  if (tid == 0u && n < ${u(N)}) { result[m * ${u(N)} + n] = red[0]${act8 ? ` * bitcast<f32>(xs[M * ${u(W8)} + m])` : ''}; }
}`;
}

/**
 * Per-token int8 activation quantization (docs/algorithm.md §5; quantizeActivationsInt8 on the
 * cpu), the one home of its WGSL: the pre-pass (actQuantShader) and the one-pass variant
 * (quantized_matmul_onepass_wgsl.ts) both call these, so they quantize identically on a device.
 */
export const ACT8_QUANT_WGSL = `
fn act8Scale(absmax: f32) -> f32 { return max(absmax, 1e-5) / 127.0; }
fn act8Code(v: f32, s: f32) -> i32 { return i32(clamp(round(v / s), -128.0, 127.0)); }`;

/**
 * W4A8 pre-pass: one workgroup per token. scale = max(absmax, 1e-5) / 127,
 * q = clamp(round(x / scale), -128, 127), packed per octet of 8 inputs as two words:
 * (x0, x2, x4, x6) and (x1, x3, x5, x7), byte 0 first, the order in which a 4-bit weight word
 * yields its codes as bytes (w & 0x0f0f0f0f, (w >> 4) & 0x0f0f0f0f). Padding bytes are 0.
 * Output (int32): [M * act8Words(K)] packed codes, then M scales as f32 bits.
 */
export function actQuantShader(K: number): string {
  const W8 = act8Words(K);
  return `// qmm act-quant K=${K}
${ACT8_QUANT_WGSL}
var<workgroup> red: array<f32, 256>;
fn main(index: i32) {
  let tid = localIndex;
  let wid = workgroupId;
  let M = u32(uniforms.m);
  let m = wid.x;
  let base = m * ${u(K)};
  var amax = 0.0;
  for (var k = tid; k < ${u(K)}; k += 256u) { amax = max(amax, abs(x[base + k])); }
  red[tid] = amax;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h = h / 2u) {
    if (tid < h) { red[tid] = max(red[tid], red[tid + h]); }
    workgroupBarrier();
  }
  let s = act8Scale(red[0]);
  if (tid == 0u) { result[M * ${u(W8)} + m] = bitcast<i32>(s); }
  for (var t = tid; t < ${u(W8)}; t += 256u) {
    var word = 0u;
    for (var j = 0u; j < 4u; j++) {
      let k = (t / 2u) * 8u + (t % 2u) + 2u * j;
      var q = 0i;
      if (k < ${u(K)}) { q = act8Code(x[base + k], s); }
      word = word | ((bitcast<u32>(q) & 0xffu) << (8u * j));
    }
    result[m * ${u(W8)} + t] = bitcast<i32>(word);
  }
}`;
}
