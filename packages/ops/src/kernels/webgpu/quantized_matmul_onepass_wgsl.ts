/**
 * WGSL of the one-pass W4A8 variant of MbqQuantizedMatMul (issue 17: one dispatch per call for
 * decode-shaped M), user code of a tfjs-webgpu program like the others in quantized_matmul_wgsl.ts
 * (x as scalar f32, packed as scalar i32, scales and zeros as f32).
 *
 * The two-dispatch path quantizes x per token in a pre-pass (actQuantShader) and the matmul reads
 * the int8 codes. Here every workgroup does the pre-pass's work for its tokens itself:
 * - absmax of each of its MT tokens over all of K (max is exact and order-independent, so every
 *   workgroup gets the pre-pass's scale bit for bit), then scale = act8Scale(absmax);
 * - per K tile of TILE codes, the MT tokens' codes act8Code(x, scale) into workgroup memory (the
 *   same WGSL functions as the pre-pass: ACT8_QUANT_WGSL);
 * - one thread per output row walks its row's 4-bit codes and accumulates, per token, the exact
 *   integer Σ_{k in g} qx[k]·(q[k] − zero) of each group; at each group's end it adds
 *   scale_g · that sum to a float32 total, in increasing group order, and multiplies the total by
 *   the token's scale at the end: the operations of the cpu reference (quantizedMatMulReference,
 *   actBits = 8) in its order, so the result is bit-identical to it where WGSL's f32 division is
 *   correctly rounded (it is on lavapipe; the pre-pass shares the division, see actQuantShader).
 * Any K and group size (a group may end inside a word or span tiles). Not yet timed on a GPU.
 */
import { wordsPerRow } from '../../packing.js';
import { ACT8_QUANT_WGSL, type QmmShape } from './quantized_matmul_wgsl.js';

export interface OnePassConfig {
  /** Tokens (rows of x) per workgroup, 1..8; more tokens take more workgroups along y. */
  MT: number;
  /** Threads (= output rows) per workgroup. */
  WG: number;
}

/** Codes per K tile staged in workgroup memory (a multiple of 8: whole 4-bit words). */
const TILE = 256;

const u = (v: number): string => `${v >>> 0}u`;

export function onePassShader(s: QmmShape, c: OnePassConfig): string {
  const { bits, K, N, groupSize } = s;
  const { MT, WG } = c;
  if (bits !== 4) throw new Error('onePassShader: needs bits = 4 (W4A8)');
  if (!(MT >= 1 && MT <= 8)) throw new Error(`onePassShader: MT must be 1..8, got ${MT}`);
  const G = K / groupSize;
  const WPR = wordsPerRow(K, bits);
  const NT = Math.ceil(K / TILE);
  // A group ends on a word boundary when groupSize % 8 == 0: test once per word, else per code.
  const perWord = groupSize % 8 === 0;
  const L: string[] = [];
  L.push(`// qmm onepass a8 bits=${bits} K=${K} N=${N} g=${groupSize} MT=${MT} WG=${WG}`);
  L.push(ACT8_QUANT_WGSL);
  L.push(`var<workgroup> red: array<f32, ${MT * WG}>;`);
  L.push(`var<workgroup> sx: array<f32, ${MT}>;`);
  L.push(`var<workgroup> xq: array<i32, ${MT * TILE}>;`);
  L.push('fn main() {');
  L.push('  let tid = localIndex;');
  L.push('  let wid = workgroupId;');
  L.push('  let M = u32(uniforms.m);');
  L.push(`  let m0 = wid.y * ${u(MT)};`);
  L.push(`  let row = wid.x * ${u(WG)} + tid;`);
  L.push(`  let n = min(row, ${u(N - 1)});`);
  // Absmax of the MT tokens: per-thread maxima, then one tree over all tokens at once.
  for (let m = 0; m < MT; m++) {
    L.push(`  let xr${m} = min(m0 + ${u(m)}, M - 1u) * ${u(K)};`);
    L.push(`  var am${m} = 0.0;`);
  }
  L.push(`  for (var k = tid; k < ${u(K)}; k += ${u(WG)}) {`);
  for (let m = 0; m < MT; m++) L.push(`    am${m} = max(am${m}, abs(x[xr${m} + k]));`);
  L.push('  }');
  for (let m = 0; m < MT; m++) L.push(`  red[${u(m * WG)} + tid] = am${m};`);
  L.push('  workgroupBarrier();');
  L.push(`  for (var h = ${u(WG / 2)}; h > 0u; h = h / 2u) {`);
  L.push('    if (tid < h) {');
  for (let m = 0; m < MT; m++) L.push(`      red[${u(m * WG)} + tid] = max(red[${u(m * WG)} + tid], red[${u(m * WG)} + tid + h]);`);
  L.push('    }');
  L.push('    workgroupBarrier();');
  L.push('  }');
  L.push(`  if (tid < ${u(MT)}) { sx[tid] = act8Scale(red[tid * ${u(WG)}]); }`);
  L.push('  workgroupBarrier();');
  for (let m = 0; m < MT; m++) L.push(`  let s${m} = sx[${u(m)}];`);
  for (let m = 0; m < MT; m++) L.push(`  var acc${m} = 0.0;`, `  var ai${m} = 0i;`);
  L.push('  var gi = 0u;');
  L.push(`  var z = i32(zeros[n * ${u(G)}]);`);
  // At a group's end: its float term into the totals (the cpu reference's order), next group's zero.
  const flush = (ind: string): string[] => {
    const out = [`${ind}let sg = scales[n * ${u(G)} + gi];`];
    for (let m = 0; m < MT; m++) out.push(`${ind}acc${m} = acc${m} + sg * f32(ai${m});`, `${ind}ai${m} = 0i;`);
    out.push(`${ind}gi = gi + 1u;`, `${ind}z = i32(zeros[n * ${u(G)} + min(gi, ${u(G - 1)})]);`);
    return out;
  };
  L.push(`  for (var t = 0u; t < ${u(NT)}; t++) {`);
  L.push(`    let k0 = t * ${u(TILE)};`);
  L.push('    workgroupBarrier();');
  L.push(`    for (var i = tid; i < ${u(MT * TILE)}; i += ${u(WG)}) {`);
  L.push(`      let mi = i / ${u(TILE)};`);
  L.push(`      let k = k0 + i % ${u(TILE)};`);
  L.push('      var q = 0i;');
  L.push(`      if (k < ${u(K)}) {`);
  L.push(`        let v = x[min(m0 + mi, M - 1u) * ${u(K)} + k];`);
  L.push('        q = act8Code(v, sx[mi]);');
  L.push('      }');
  L.push('      xq[i] = q;');
  L.push('    }');
  L.push('    workgroupBarrier();');
  L.push(`    let wEnd = min(${u(TILE / 8)}, (${u(K)} - k0 + 7u) / 8u);`);
  L.push('    for (var w = 0u; w < wEnd; w++) {');
  L.push(`      let word = bitcast<u32>(packed[n * ${u(WPR)} + t * ${u(TILE / 8)} + w]);`);
  L.push('      for (var j = 0u; j < 8u; j++) {');
  L.push('        let kt = w * 8u + j;');
  L.push('        let k = k0 + kt;');
  if (K % 8 !== 0) L.push(`        if (k >= ${u(K)}) { break; }`);
  L.push('        let c = i32((word >> (4u * j)) & 15u) - z;');
  for (let m = 0; m < MT; m++) L.push(`        ai${m} = ai${m} + xq[${u(m * TILE)} + kt] * c;`);
  if (!perWord) {
    L.push(`        if ((k + 1u) % ${u(groupSize)} == 0u) {`);
    L.push(...flush('          '));
    L.push('        }');
  }
  L.push('      }');
  if (perWord) {
    L.push(`      if ((k0 + w * 8u + 8u) % ${u(groupSize)} == 0u) {`);
    L.push(...flush('        '));
    L.push('      }');
  }
  L.push('    }');
  L.push('  }');
  L.push(`  if (row < ${u(N)}) {`);
  for (let m = 0; m < MT; m++) L.push(`    if (m0 + ${u(m)} < M) { result[(m0 + ${u(m)}) * ${u(N)} + row] = acc${m} * s${m}; }`);
  L.push('  }');
  L.push('}');
  return L.join('\n');
}
