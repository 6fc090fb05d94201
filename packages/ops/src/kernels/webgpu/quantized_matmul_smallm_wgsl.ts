/**
 * WGSL of the small-M variant of MbqQuantizedMatMul (float activations, M = 2..8 per workgroup;
 * more tokens take more workgroups along y), user code of a tfjs-webgpu program like the others
 * in quantized_matmul_wgsl.ts (x as vec4<f32>, packed as scalar i32, scales and zeros as f32).
 *
 * Why a variant of its own: the gemv variant accumulates MT tokens per code too, but keeps
 * MT·R vec4 partial sums per thread and reads every x element from global memory in every lane,
 * so its time grew almost linearly with M on an H200 (docs/benchmarks.md, issue 17). Here
 * - each code is decoded once to a float weight w = fma(q, s, -z·s) and then feeds MT scalar
 *   accumulators per row (one fma per code and token, MT·R registers of sums);
 * - the MT rows of x are staged, one K tile at a time, in workgroup memory; all teams of the
 *   workgroup read the same tile, lanes with the same chunk read the same address (a broadcast);
 * - a lane owns one 32-code chunk of its rows per tile (`bits` words, so no code straddles the
 *   chunk), and the weights, scales and x of the next tile are loaded before the current tile is
 *   computed, so their latency overlaps the arithmetic across the two barriers of a tile.
 * A team of TS lanes owns R output rows; the TS partial sums are added in workgroup memory at the
 * end, one token at a time, in lane order (deterministic).
 */
import { teamKernelStart, type QmmShape } from './quantized_matmul_wgsl.js';

export interface SmallMConfig {
  /** Tokens (rows of x) per workgroup, 1..8. */
  MT: number;
  /** Output rows per team. */
  R: number;
  /** Threads per team; a K tile is TS chunks of 32 codes. */
  TS: number;
  /** Threads per workgroup. */
  WG: number;
}

/** WebGPU's default maxComputeWorkgroupStorageSize: the variant stays within it on any device. */
export const SMALLM_WORKGROUP_BYTES = 16384;

const u = (v: number): string => `${v >>> 0}u`;

export function smallMSupported(s: QmmShape): boolean {
  return s.K % 32 === 0 && s.groupSize % 8 === 0;
}

/** vec4 slots per chunk of the x tile: MT tokens × 8 vec4, plus one so lanes fall in different banks. */
function tileStride(MT: number): number {
  return MT * 8 + 1;
}

function tileBytes(c: SmallMConfig): number {
  return c.TS * tileStride(c.MT) * 16;
}

/**
 * Tokens whose lane sums are added per round at the end: as many as fit next to the x tile.
 * Each round costs two barriers, and on lavapipe every barrier makes the shader much slower to
 * compile (measured: MT = 8 in 8 rounds took ~50 s to compile; tests must stay fast).
 */
function reductionTokens(c: SmallMConfig): number {
  const fit = Math.floor((SMALLM_WORKGROUP_BYTES - tileBytes(c)) / (c.WG * c.R * 4));
  return Math.max(1, Math.min(c.MT, fit));
}

/** Bytes of workgroup memory the shader declares (x tile + reduction). */
export function smallMWorkgroupBytes(c: SmallMConfig): number {
  return tileBytes(c) + c.WG * c.R * 4 * reductionTokens(c);
}

/** Why the tiling cannot run, or null. */
export function smallMConfigProblem(c: SmallMConfig): string | null {
  if (!(c.MT >= 1 && c.MT <= 8)) return `MT must be 1..8, got ${c.MT}`;
  if (!(c.R >= 1 && c.R <= 8)) return `R must be 1..8, got ${c.R}`;
  if (!(c.TS >= 1 && c.WG % c.TS === 0)) return `TS (${c.TS}) must divide WG (${c.WG})`;
  if (!(c.WG >= 1 && c.WG <= 256)) return `WG must be 1..256, got ${c.WG}`;
  const bytes = smallMWorkgroupBytes(c);
  return bytes > SMALLM_WORKGROUP_BYTES ? `needs ${bytes} bytes of workgroup memory (> ${SMALLM_WORKGROUP_BYTES})` : null;
}

/** Code i (0..31) of a chunk whose `bits` words are `${w}_${j}`: the chunk holds exactly 32 codes. */
function chunkCode(w: string, bits: number, i: number): string {
  const p = i * bits;
  const t = p >> 5;
  const off = p & 31;
  const mask = u((1 << bits) - 1);
  if (off + bits <= 32) {
    const shifted = off === 0 ? `${w}_${t}` : `(${w}_${t} >> ${u(off)})`;
    return off + bits === 32 ? shifted : `(${shifted} & ${mask})`;
  }
  return `(((${w}_${t} >> ${u(off)}) | (${w}_${t + 1} << ${u(32 - off)})) & ${mask})`;
}

export function smallMShader(s: QmmShape, c: SmallMConfig): string {
  const { bits, K, N, groupSize } = s;
  const { MT, R, TS, WG } = c;
  if (!smallMSupported(s)) throw new Error('smallMShader: needs K % 32 == 0 and groupSize % 8 == 0');
  const problem = smallMConfigProblem(c);
  if (problem) throw new Error(`smallMShader: ${problem}`);
  const C = K / 32; // chunks per row
  const NT = Math.ceil(C / TS); // K tiles
  const G = K / groupSize;
  const WPR = (K * bits) / 32;
  const TEAMS = WG / TS;
  const ROWS = TEAMS * R;
  const XS = tileStride(MT);
  const SE = MT * TS * 8; // vec4 of x per tile
  const SPT = Math.ceil(SE / WG); // staged vec4 per thread
  // One (scale, zero) per chunk when groups are whole chunks; else per octet (groupSize % 8 == 0).
  const perChunk = groupSize % 32 === 0;
  const L: string[] = [];
  L.push(`// qmm smallm bits=${bits} K=${K} N=${N} g=${groupSize} MT=${MT} R=${R} TS=${TS} WG=${WG}`);
  L.push(`var<workgroup> xt: array<vec4<f32>, ${TS * XS}>;`);
  L.push(`var<workgroup> red: array<f32, ${WG * R * reductionTokens(c)}>;`);
  L.push(...teamKernelStart(ROWS, R, TS, MT));
  L.push(`  let xb = lane * ${u(XS)};`);
  for (let r = 0; r < R; r++) L.push(`  let n${r} = min(row0 + ${u(r)}, ${u(N - 1)});`);
  // This thread's share of the x tile: element e = (token, chunk of the tile, vec4 in the chunk).
  for (let i = 0; i < SPT; i++) {
    L.push(`  let e${i} = tid + ${u(i * WG)};`);
    L.push(`  let em${i} = e${i} / ${u(TS * 8)};`);
    L.push(`  let el${i} = (e${i} / 8u) % ${u(TS)};`);
    L.push(`  let eq${i} = e${i} % 8u;`);
    L.push(`  let es${i} = el${i} * ${u(XS)} + em${i} * 8u + eq${i};`);
    L.push(`  let ex${i} = min(m0 + em${i}, M - 1u) * ${u(K / 4)} + eq${i};`);
    L.push(`  let eok${i} = e${i} < ${u(SE)} && m0 + em${i} < M;`);
  }
  const stageLoad = (t: string): string[] => {
    const out: string[] = [];
    for (let i = 0; i < SPT; i++) {
      out.push(`    let sc${i} = ${t} * ${u(TS)} + el${i};`);
      out.push(`    xp${i} = select(vec4<f32>(0.0), x[ex${i} + min(sc${i}, ${u(C - 1)}) * 8u], eok${i} && sc${i} < ${u(C)});`);
    }
    return out;
  };
  const weightLoad = (t: string, prefix: string, decl: string): string[] => {
    const out = [`    let ${prefix}c = min(${t} * ${u(TS)} + lane, ${u(C - 1)});`];
    for (let r = 0; r < R; r++) {
      out.push(`    let ${prefix}b${r} = n${r} * ${u(WPR)} + ${prefix}c * ${u(bits)};`);
      for (let j = 0; j < bits; j++) out.push(`    ${decl}w${r}_${j} = bitcast<u32>(packed[${prefix}b${r} + ${u(j)}]);`);
      if (perChunk) {
        out.push(`    let ${prefix}g${r} = n${r} * ${u(G)} + ${prefix}c * 32u / ${u(groupSize)};`);
        out.push(`    ${decl}s${r} = scales[${prefix}g${r}];`);
        out.push(`    ${decl}nz${r} = -(zeros[${prefix}g${r}] * scales[${prefix}g${r}]);`);
      }
    }
    return out;
  };
  // Tile 0's loads ahead of the loop; each iteration loads tile t + 1 before computing tile t.
  for (let i = 0; i < SPT; i++) L.push(`  var xp${i} = vec4<f32>(0.0);`);
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < bits; j++) L.push(`  var w${r}_${j} = 0u;`);
    if (perChunk) L.push(`  var s${r} = 0.0;`, `  var nz${r} = 0.0;`);
  }
  L.push('  {');
  L.push(...stageLoad('0u'), ...weightLoad('0u', 'f', ''));
  L.push('  }');
  for (let m = 0; m < MT; m++) for (let r = 0; r < R; r++) L.push(`  var acc${m}_${r} = 0.0;`);
  L.push(`  for (var t = 0u; t < ${u(NT)}; t++) {`);
  L.push('    workgroupBarrier();');
  for (let i = 0; i < SPT; i++) {
    L.push(SE % WG === 0 || i < SPT - 1 ? `    xt[es${i}] = xp${i};` : `    if (e${i} < ${u(SE)}) { xt[es${i}] = xp${i}; }`);
  }
  L.push('    workgroupBarrier();');
  L.push(...stageLoad('(t + 1u)'));
  // The next tile's weights into n-prefixed copies; this tile's stay in w, s, nz.
  const next = weightLoad('(t + 1u)', 'p', 'let n');
  L.push(...next);
  L.push(`    let c = t * ${u(TS)} + lane;`);
  L.push(C % TS === 0 ? '    {' : `    if (c < ${u(C)}) {`);
  for (let q = 0; q < 8; q++) {
    for (let m = 0; m < MT; m++) L.push(`      let x${m}_${q} = xt[xb + ${u(m * 8 + q)}];`);
    for (let r = 0; r < R; r++) {
      let sExpr = `s${r}`;
      let nzExpr = `nz${r}`;
      if (!perChunk) {
        if (q % 2 === 0) {
          // Octet q/2 of the chunk lies in one group (groupSize % 8 == 0).
          L.push(`      let g${r}_${q} = n${r} * ${u(G)} + (c * 32u + ${u(4 * q)}) / ${u(groupSize)};`);
          L.push(`      let s${r}_${q} = scales[g${r}_${q}];`);
          L.push(`      let nz${r}_${q} = -(zeros[g${r}_${q}] * s${r}_${q});`);
        }
        const q0 = q - (q % 2);
        sExpr = `s${r}_${q0}`;
        nzExpr = `nz${r}_${q0}`;
      }
      const wq = (i: number): string => `fma(cvt(${chunkCode(`w${r}`, bits, 4 * q + i)}), ${sExpr}, ${nzExpr})`;
      L.push(`      let v${r}_${q} = vec4<f32>(${wq(0)}, ${wq(1)}, ${wq(2)}, ${wq(3)});`);
      for (let m = 0; m < MT; m++) {
        const a = `acc${m}_${r}`;
        const xv = `x${m}_${q}`;
        const v = `v${r}_${q}`;
        L.push(`      ${a} = fma(${v}.w, ${xv}.w, fma(${v}.z, ${xv}.z, fma(${v}.y, ${xv}.y, fma(${v}.x, ${xv}.x, ${a}))));`);
      }
    }
  }
  L.push('    }');
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < bits; j++) L.push(`    w${r}_${j} = nw${r}_${j};`);
    if (perChunk) L.push(`    s${r} = ns${r};`, `    nz${r} = nnz${r};`);
  }
  L.push('  }');
  // Lane sums, TPR tokens per round (the reduction buffer holds WG·R·TPR values), in lane order.
  const TPR = reductionTokens(c);
  for (let t0 = 0; t0 < MT; t0 += TPR) {
    const ms = Math.min(TPR, MT - t0);
    if (t0 > 0) L.push('  workgroupBarrier();');
    for (let m = 0; m < ms; m++) {
      for (let r = 0; r < R; r++) L.push(`  red[${u(m * WG * R)} + tid * ${u(R)} + ${u(r)}] = acc${t0 + m}_${r};`);
    }
    L.push('  workgroupBarrier();');
    L.push(`  for (var o = tid; o < ${u(ms * TEAMS * R)}; o += ${u(WG)}) {`);
    L.push(`    let mi = o / ${u(TEAMS * R)};`);
    L.push(`    let oi = o % ${u(TEAMS * R)};`);
    L.push(`    let base = mi * ${u(WG * R)} + (oi / ${u(R)}) * ${u(TS * R)} + oi % ${u(R)};`);
    L.push('    var sum = 0.0;');
    L.push(`    for (var l = 0u; l < ${u(TS)}; l++) { sum += red[base + l * ${u(R)}]; }`);
    L.push(`    let n = wid.x * ${u(ROWS)} + oi;`);
    L.push(`    let m = m0 + ${u(t0)} + mi;`);
    L.push(`    if (n < ${u(N)} && m < M) { result[m * ${u(N)} + n] = sum; }`);
    L.push('  }');
  }
  L.push('}');
  return L.join('\n');
}
