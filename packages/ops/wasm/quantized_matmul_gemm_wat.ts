/**
 * WebAssembly text of the wasm SIMD kernel for several tokens at once (prefill, M >= GEMM_MIN_M):
 * y[M, N] = x[M, K] · dequant(W)ᵀ as "dequantize a block of 8 weight rows, then a float GEMM".
 *
 * The per-token kernels (quantized_matmul_wat.ts, quantized_matmul_lanes_wat.ts) decode every code
 * once per M tile of 4 tokens at most, so at M = 75 they spend most of their work decoding. Here
 * each code is decoded once per call:
 * - deq4_b<bits> turns 4 rows of codes into float32 weights w = (q - z) · s (the reference's
 *   values: q - z is exact and the single product is rounded once, as in float64-then-fround),
 *   rows in lanes ("rows in lanes" gathers of quantized_matmul_wat.ts, constant shifts per
 *   32-code block), written to a scratch block wb[k][8] (two calls fill the 8 columns);
 * - mk<t> is a register-tiled float GEMM micro-kernel over that block: t tokens × 8 rows,
 *   x[m, k] splatted and multiplied with wb[k][0..3], wb[k][4..7] (2·t v128 accumulators),
 *   summing k in increasing order (the reference's order, each product rounded to float32).
 * The block is K · 32 bytes (1 KiB per 32 inputs): in L1/L2 while the micro-kernel sweeps the tokens
 * over it. The weights stay packed; the block is per-call scratch.
 *
 * Needs groupSize % 32 == 0 (so K % 32 == 0): whole 32-code blocks per group.
 */
import { Emitter, gather4, range } from './wat_emitter.js';

/** Tokens per micro-kernel call, largest first. */
const GEMM_M_TILES = [4, 1] as const;
/** Weight rows per dequantized block. */
const GEMM_ROWS = 8;

export function gemmExportName(bits: number): string { return `gemm_f32_b${bits}`; }


/**
 * The start deq4 and deq4A8 share: their i32 locals and the given v128 ones, $G = K / g, and per
 * row n0 + i (clamped to N - 1) the pointers $p<i> (packed words), $sp<i> (scales), $zp<i> (zeros).
 */
function deqRowsPrologue(e: Emitter, v128Locals: readonly string[]): void {
  const i32s = ['$G', '$gi', '$kb', '$kGroupEnd', '$r', '$o'];
  for (const i of range(4)) i32s.push(`$p${i}`, `$sp${i}`, `$zp${i}`);
  e.emit(i32s.map((l) => `(local ${l} i32)`).join(' '));
  e.emit(v128Locals.map((l) => `(local ${l} v128)`).join(' '));
  e.emit(`local.get $K`, `local.get $g`, `i32.div_u`, `local.set $G`);
  for (const i of range(4)) {
    e.emit(`local.get $n0`, `i32.const ${i}`, `i32.add`, `local.get $N`, `i32.const 1`, `i32.sub`,
      `local.get $n0`, `i32.const ${i}`, `i32.add`, `local.get $N`, `i32.lt_u`, `select`, `local.set $r`);
    e.emit(`local.get $packed`, `local.get $r`, `local.get $words`, `i32.mul`, `i32.const 2`, `i32.shl`, `i32.add`, `local.set $p${i}`);
    e.emit(`local.get $r`, `local.get $G`, `i32.mul`, `i32.const 2`, `i32.shl`, `local.tee $r`, `local.get $scales`, `i32.add`, `local.set $sp${i}`);
    e.emit(`local.get $r`, `local.get $zeros`, `i32.add`, `local.set $zp${i}`);
  }
}

/** deq4_b<bits>: rows n0..n0+3 (clamped to N - 1) into wb + 32·k (4 floats per k, stride 32 bytes). */
function deq4(e: Emitter, bits: number): void {
  const mask = (1 << bits) - 1;
  e.emit(`(func $deq4_b${bits} (param $packed i32) (param $scales i32) (param $zeros i32) (param $n0 i32) (param $N i32)`,
    `(param $K i32) (param $g i32) (param $words i32) (param $wb i32)`);
  deqRowsPrologue(e, ['$w', '$wn', '$sv', '$zv']);
  e.emit(`i32.const 0`, `local.set $gi`, `i32.const 0`, `local.set $kb`, `local.get $wb`, `local.set $o`);
  e.emit(`(loop $groups`);
  gather4(e, (i) => `$sp${i}`, [], 0, '$sv');
  gather4(e, (i) => `$zp${i}`, [], 0, '$zv');
  for (const i of range(4)) e.emit(`local.get $sp${i}`, `i32.const 4`, `i32.add`, `local.set $sp${i}`, `local.get $zp${i}`, `i32.const 4`, `i32.add`, `local.set $zp${i}`);
  e.emit(`local.get $kb`, `local.get $g`, `i32.add`, `local.set $kGroupEnd`);
  e.emit(`(loop $blocks`);
  let cur = -1;
  let wnHolds = -1;
  for (const j of range(32)) {
    const bit = j * bits;
    const t = bit >> 5;
    const s = bit & 31;
    if (t !== cur) {
      if (wnHolds === t) e.emit(`local.get $wn`, `local.set $w`);
      else gather4(e, (i) => `$p${i}`, [], 4 * t, '$w');
      cur = t;
    }
    e.emit(`local.get $o`);
    if (s + bits <= 32) {
      e.emit(`local.get $w`);
      if (s > 0) e.emit(`i32.const ${s}`, `i32x4.shr_u`);
      if (s + bits < 32) e.emit(`v128.const i32x4 ${mask} ${mask} ${mask} ${mask}`, `v128.and`);
    } else {
      gather4(e, (i) => `$p${i}`, [], 4 * (t + 1), '$wn');
      wnHolds = t + 1;
      e.emit(`local.get $w`, `i32.const ${s}`, `i32x4.shr_u`, `local.get $wn`, `i32.const ${32 - s}`, `i32x4.shl`, `v128.or`,
        `v128.const i32x4 ${mask} ${mask} ${mask} ${mask}`, `v128.and`);
    }
    e.emit(`f32x4.convert_i32x4_s`, `local.get $zv`, `f32x4.sub`, `local.get $sv`, `f32x4.mul`, `v128.store offset=${32 * j} align=4`);
  }
  for (const i of range(4)) e.emit(`local.get $p${i}`, `i32.const ${4 * bits}`, `i32.add`, `local.set $p${i}`);
  e.emit(`local.get $o`, `i32.const ${32 * 32}`, `i32.add`, `local.set $o`);
  e.emit(`local.get $kb`, `i32.const 32`, `i32.add`, `local.tee $kb`, `local.get $kGroupEnd`, `i32.lt_u`, `br_if $blocks`, `)`);
  e.emit(`local.get $gi`, `i32.const 1`, `i32.add`, `local.tee $gi`, `local.get $G`, `i32.lt_u`, `br_if $groups`, `)`);
  e.emit(`)`);
}

/**
 * mk<t>: y[m, 0..7] = Σ_k x[m, k] · wb[k][0..7] for t tokens (x at row m0, y at [m0, n0]); rows
 * past `left` (the N tail) are not stored.
 */
function microKernel(e: Emitter, t: number): void {
  const ms = range(t);
  const UNROLL = 4;
  e.emit(`(func $mk${t} (param $x i32) (param $wb i32) (param $y i32) (param $K i32) (param $N i32) (param $left i32) (param $tmp i32)`);
  const i32s = ['$w', '$wEnd', '$i', '$dst'];
  for (const m of ms) i32s.push(`$x${m}`);
  e.emit(i32s.map((l) => `(local ${l} i32)`).join(' '));
  const vs = ['$w0', '$w1', '$xs'];
  for (const m of ms) vs.push(`$a${m}_0`, `$a${m}_1`);
  e.emit(vs.map((l) => `(local ${l} v128)`).join(' '));
  for (const m of ms) {
    e.emit(`local.get $x`);
    if (m > 0) e.emit(`local.get $K`, `i32.const ${4 * m}`, `i32.mul`, `i32.add`);
    e.emit(`local.set $x${m}`);
  }
  e.emit(`local.get $wb`, `local.tee $w`, `local.get $K`, `i32.const 5`, `i32.shl`, `i32.add`, `local.set $wEnd`);
  e.emit(`(loop $k_loop`);
  for (const u of range(UNROLL)) {
    e.emit(`local.get $w`, `v128.load offset=${32 * u} align=4`, `local.set $w0`, `local.get $w`, `v128.load offset=${32 * u + 16} align=4`, `local.set $w1`);
    for (const m of ms) {
      e.emit(`local.get $x${m}`, `v128.load32_splat offset=${4 * u} align=4`, `local.set $xs`);
      e.emit(`local.get $a${m}_0`, `local.get $xs`, `local.get $w0`, `f32x4.mul`, `f32x4.add`, `local.set $a${m}_0`);
      e.emit(`local.get $a${m}_1`, `local.get $xs`, `local.get $w1`, `f32x4.mul`, `f32x4.add`, `local.set $a${m}_1`);
    }
  }
  for (const m of ms) e.emit(`local.get $x${m}`, `i32.const ${4 * UNROLL}`, `i32.add`, `local.set $x${m}`);
  e.emit(`local.get $w`, `i32.const ${32 * UNROLL}`, `i32.add`, `local.tee $w`, `local.get $wEnd`, `i32.lt_u`, `br_if $k_loop`, `)`);
  for (const m of ms) {
    // dst = y + m·N·4
    e.emit(`local.get $y`);
    if (m > 0) e.emit(`local.get $N`, `i32.const ${4 * m}`, `i32.mul`, `i32.add`);
    e.emit(`local.set $dst`);
    e.emit(`(if (i32.ge_u (local.get $left) (i32.const 8))`,
      `(then local.get $dst local.get $a${m}_0 v128.store align=4 local.get $dst local.get $a${m}_1 v128.store offset=16 align=4)`,
      `(else`,
      `local.get $tmp local.get $a${m}_0 v128.store align=4 local.get $tmp local.get $a${m}_1 v128.store offset=16 align=4`,
      `i32.const 0 local.set $i`,
      `(loop $copy`,
      `local.get $dst local.get $i i32.const 2 i32.shl i32.add`,
      `local.get $tmp local.get $i i32.const 2 i32.shl i32.add f32.load align=4`,
      `f32.store align=4`,
      `local.get $i i32.const 1 i32.add local.tee $i local.get $left i32.lt_u br_if $copy)`,
      `))`);
  }
  e.emit(`)`);
}

/**
 * gemm_f32_b<bits>(x, packed, scales, zeros, y, M, N, K, g, words, scratch): the whole product;
 * scratch holds the block wb [K][8] floats and 4 × 8 floats for a partial store (32·K + 128 bytes).
 */
function gemm(e: Emitter, bits: number): void {
  const name = gemmExportName(bits);
  e.emit(`(func $${name} (export "${name}") (param $x i32) (param $packed i32) (param $scales i32) (param $zeros i32) (param $y i32)`,
    `(param $M i32) (param $N i32) (param $K i32) (param $g i32) (param $words i32) (param $wb i32)`,
    `(local $n0 i32) (local $m0 i32) (local $left i32) (local $tmp i32) (local $xRow i32) (local $yRow i32)`);
  e.emit(`local.get $wb`, `local.get $K`, `i32.const 5`, `i32.shl`, `i32.add`, `local.set $tmp`);
  e.emit(`i32.const 0`, `local.set $n0`);
  e.emit(`(loop $blocks`);
  e.emit(`local.get $packed`, `local.get $scales`, `local.get $zeros`, `local.get $n0`, `local.get $N`, `local.get $K`, `local.get $g`, `local.get $words`, `local.get $wb`, `call $deq4_b${bits}`);
  e.emit(`local.get $packed`, `local.get $scales`, `local.get $zeros`, `local.get $n0`, `i32.const 4`, `i32.add`, `local.get $N`, `local.get $K`, `local.get $g`, `local.get $words`,
    `local.get $wb`, `i32.const 16`, `i32.add`, `call $deq4_b${bits}`);
  e.emit(`local.get $N`, `local.get $n0`, `i32.sub`, `local.set $left`, `i32.const 0`, `local.set $m0`);
  for (const t of GEMM_M_TILES) {
    e.emit(`(block $done${t}`, `(loop $tile${t}`, `local.get $M`, `local.get $m0`, `i32.sub`, `i32.const ${t}`, `i32.lt_u`, `br_if $done${t}`);
    e.emit(`local.get $x`, `local.get $m0`, `local.get $K`, `i32.mul`, `i32.const 2`, `i32.shl`, `i32.add`,
      `local.get $wb`,
      `local.get $y`, `local.get $m0`, `local.get $N`, `i32.mul`, `local.get $n0`, `i32.add`, `i32.const 2`, `i32.shl`, `i32.add`,
      `local.get $K`, `local.get $N`, `local.get $left`, `local.get $tmp`, `call $mk${t}`);
    e.emit(`local.get $m0`, `i32.const ${t}`, `i32.add`, `local.set $m0`, `br $tile${t}`, `))`);
  }
  e.emit(`local.get $n0`, `i32.const ${GEMM_ROWS}`, `i32.add`, `local.tee $n0`, `local.get $N`, `i32.lt_u`, `br_if $blocks`, `)`);
  e.emit(`)`);
}

/** All functions of the GEMM path, for every bit width in `bitsList`. */
export function gemmFunctions(e: Emitter, bitsList: readonly number[]): void {
  for (const t of GEMM_M_TILES) microKernel(e, t);
  for (const bits of bitsList) {
    deq4(e, bits);
    gemm(e, bits);
  }
}

/**
 * W4A8 (act_bits 8), exact: x quantized per token to int8 exactly as quantizeActivationsInt8
 * (prep_q16: int16 xq [M][K] and the token scales sx [M]); deq4_a8 writes (q - z) of 4 rows as int16
 * pairs (k, k+1) per row lane into wb [K/2][8][2] and the rows' group scales into sb [G][8];
 * mkA8<t> sums qx·(q - z) per group in int32 with i32x4.dot_i16x8_s (exact), then combines the
 * groups like the reference: acc = fround(acc + fround(s · sum)) (the product in float64), and
 * y = fround(acc · sx). Bit-identical to the cpu reference. Needs integer zeros and K·2^(bits+2)·128 < 2^31
 * (the kernel's caller checks both) and groupSize % 32 == 0.
 */
export function gemmA8ExportName(bits: number): string { return `gemm_a8_b${bits}`; }

/** prep_q16(x, M, K, xq, sx): per token, scale = fround(max(absmax, 1e-5) / 127), xq = clamp(nearest(x / scale)). */
function prepQ16(e: Emitter): void {
  e.emit(`(func $prep_q16 (param $x i32) (param $M i32) (param $K i32) (param $xq i32) (param $sx i32)`,
    `(local $m i32) (local $k i32) (local $src i32) (local $amax f32) (local $scale f32)`);
  e.emit(`local.get $x`, `local.set $src`, `i32.const 0`, `local.set $m`);
  e.emit(`(loop $m_loop`, `f32.const 0`, `local.set $amax`, `i32.const 0`, `local.set $k`);
  e.emit(`(loop $amax_loop`, `local.get $amax`, `local.get $src`, `local.get $k`, `i32.const 2`, `i32.shl`, `i32.add`, `f32.load align=4`, `f32.abs`, `f32.max`, `local.set $amax`,
    `local.get $k`, `i32.const 1`, `i32.add`, `local.tee $k`, `local.get $K`, `i32.lt_u`, `br_if $amax_loop`, `)`);
  e.emit(`local.get $amax`, `f32.const 1e-5`, `f32.max`, `f32.const 127`, `f32.div`, `local.set $scale`);
  e.emit(`local.get $sx`, `local.get $m`, `i32.const 2`, `i32.shl`, `i32.add`, `local.get $scale`, `f32.store align=4`);
  e.emit(`i32.const 0`, `local.set $k`);
  e.emit(`(loop $k_loop`, `local.get $xq`,
    `local.get $src`, `local.get $k`, `i32.const 2`, `i32.shl`, `i32.add`, `f32.load align=4`, `local.get $scale`, `f32.div`, `f32.nearest`,
    `f32.const -128`, `f32.max`, `f32.const 127`, `f32.min`, `i32.trunc_sat_f32_s`, `i32.store16 align=2`,
    `local.get $xq`, `i32.const 2`, `i32.add`, `local.set $xq`,
    `local.get $k`, `i32.const 1`, `i32.add`, `local.tee $k`, `local.get $K`, `i32.lt_u`, `br_if $k_loop`, `)`);
  e.emit(`local.get $src`, `local.get $K`, `i32.const 2`, `i32.shl`, `i32.add`, `local.set $src`);
  e.emit(`local.get $m`, `i32.const 1`, `i32.add`, `local.tee $m`, `local.get $M`, `i32.lt_u`, `br_if $m_loop`, `)`);
  e.emit(`)`);
}

/** deq4_a8_b<bits>: (q - z) of rows n0..n0+3 (clamped) as int16 pairs into wb + 32·(k/2); scales into sb + 32·gi. */
function deq4A8(e: Emitter, bits: number): void {
  const mask = (1 << bits) - 1;
  e.emit(`(func $deq4_a8_b${bits} (param $packed i32) (param $scales i32) (param $zeros i32) (param $n0 i32) (param $N i32)`,
    `(param $K i32) (param $g i32) (param $words i32) (param $wb i32) (param $sb i32)`);
  deqRowsPrologue(e, ['$w', '$wn', '$sv', '$zv', '$ev', '$nv']);
  e.emit(`i32.const 0`, `local.set $gi`, `i32.const 0`, `local.set $kb`, `local.get $wb`, `local.set $o`);
  e.emit(`(loop $groups`);
  gather4(e, (i) => `$sp${i}`, [], 0, '$sv');
  gather4(e, (i) => `$zp${i}`, [], 0, '$zv');
  e.emit(`local.get $sb`, `local.get $sv`, `v128.store align=4`, `local.get $sb`, `i32.const 32`, `i32.add`, `local.set $sb`);
  e.emit(`local.get $zv`, `i32x4.trunc_sat_f32x4_s`, `local.set $zv`);
  for (const i of range(4)) e.emit(`local.get $sp${i}`, `i32.const 4`, `i32.add`, `local.set $sp${i}`, `local.get $zp${i}`, `i32.const 4`, `i32.add`, `local.set $zp${i}`);
  e.emit(`local.get $kb`, `local.get $g`, `i32.add`, `local.set $kGroupEnd`);
  e.emit(`(loop $blocks`);
  let cur = -1;
  let wnHolds = -1;
  for (const j of range(32)) {
    const bit = j * bits;
    const t = bit >> 5;
    const s = bit & 31;
    if (t !== cur) {
      if (wnHolds === t) e.emit(`local.get $wn`, `local.set $w`);
      else gather4(e, (i) => `$p${i}`, [], 4 * t, '$w');
      cur = t;
    }
    if (j % 2 === 1) e.emit(`local.get $o`, `local.get $ev`);
    if (s + bits <= 32) {
      e.emit(`local.get $w`);
      if (s > 0) e.emit(`i32.const ${s}`, `i32x4.shr_u`);
      if (s + bits < 32) e.emit(`v128.const i32x4 ${mask} ${mask} ${mask} ${mask}`, `v128.and`);
    } else {
      gather4(e, (i) => `$p${i}`, [], 4 * (t + 1), '$wn');
      wnHolds = t + 1;
      e.emit(`local.get $w`, `i32.const ${s}`, `i32x4.shr_u`, `local.get $wn`, `i32.const ${32 - s}`, `i32x4.shl`, `v128.or`,
        `v128.const i32x4 ${mask} ${mask} ${mask} ${mask}`, `v128.and`);
    }
    e.emit(`local.get $zv`, `i32x4.sub`);
    if (j % 2 === 0) e.emit(`local.set $ev`);
    else {
      // lanes (even_r, odd_r) as int16 pairs: narrow to [e0..e3 o0..o3], then interleave.
      e.emit(`i16x8.narrow_i32x4_s`, `local.tee $nv`, `local.get $nv`,
        `i8x16.shuffle 0 1 8 9 2 3 10 11 4 5 12 13 6 7 14 15`, `v128.store offset=${16 * (j - 1)} align=4`);
    }
  }
  for (const i of range(4)) e.emit(`local.get $p${i}`, `i32.const ${4 * bits}`, `i32.add`, `local.set $p${i}`);
  e.emit(`local.get $o`, `i32.const ${16 * 32}`, `i32.add`, `local.set $o`);
  e.emit(`local.get $kb`, `i32.const 32`, `i32.add`, `local.tee $kb`, `local.get $kGroupEnd`, `i32.lt_u`, `br_if $blocks`, `)`);
  e.emit(`local.get $gi`, `i32.const 1`, `i32.add`, `local.tee $gi`, `local.get $G`, `i32.lt_u`, `br_if $groups`, `)`);
  e.emit(`)`);
}

/**
 * mkA8<t>: t tokens × 8 rows over the int16 block: per group, int32 sums with dot_i16x8_s, then
 * facc = fround(facc + fround(s · sum)) (float64 product); finally y = fround(facc · sx[m]).
 * facc lives in $tmp (t × 8 floats): it changes once per group.
 */
function microKernelA8(e: Emitter, t: number): void {
  const ms = range(t);
  e.emit(`(func $mka8_${t} (param $xq i32) (param $wb i32) (param $sb i32) (param $sx i32) (param $y i32) (param $K i32) (param $N i32) (param $g i32) (param $left i32) (param $tmp i32)`);
  const i32s = ['$w', '$wEnd', '$gEnd', '$i', '$dst', '$s'];
  for (const m of ms) i32s.push(`$x${m}`);
  e.emit(i32s.map((l) => `(local ${l} i32)`).join(' '));
  const vs = ['$w0', '$w1', '$xs', '$c', '$sv', '$f'];
  for (const m of ms) vs.push(`$a${m}_0`, `$a${m}_1`);
  e.emit(vs.map((l) => `(local ${l} v128)`).join(' '));
  for (const m of ms) {
    e.emit(`local.get $xq`);
    if (m > 0) e.emit(`local.get $K`, `i32.const ${2 * m}`, `i32.mul`, `i32.add`);
    e.emit(`local.set $x${m}`);
    e.emit(`local.get $tmp`, `v128.const i32x4 0 0 0 0`, `v128.store offset=${32 * m} align=4`, `local.get $tmp`, `v128.const i32x4 0 0 0 0`, `v128.store offset=${32 * m + 16} align=4`);
  }
  // The block: 16 bytes per k pair and row half, 32 per k pair; a group is g/2 pairs (16·g bytes).
  e.emit(`local.get $wb`, `local.tee $w`, `local.get $K`, `i32.const 4`, `i32.shl`, `i32.add`, `local.set $wEnd`, `local.get $sb`, `local.set $s`);
  e.emit(`(loop $groups`);
  for (const m of ms) e.emit(`v128.const i32x4 0 0 0 0`, `local.tee $a${m}_0`, `local.set $a${m}_1`);
  e.emit(`local.get $w`, `local.get $g`, `i32.const 4`, `i32.shl`, `i32.add`, `local.set $gEnd`);
  e.emit(`(loop $pairs`);
  for (const u of range(2)) {
    e.emit(`local.get $w`, `v128.load offset=${32 * u} align=4`, `local.set $w0`, `local.get $w`, `v128.load offset=${32 * u + 16} align=4`, `local.set $w1`);
    for (const m of ms) {
      e.emit(`local.get $x${m}`, `v128.load32_splat offset=${4 * u} align=2`, `local.set $xs`);
      e.emit(`local.get $a${m}_0`, `local.get $xs`, `local.get $w0`, `i32x4.dot_i16x8_s`, `i32x4.add`, `local.set $a${m}_0`);
      e.emit(`local.get $a${m}_1`, `local.get $xs`, `local.get $w1`, `i32x4.dot_i16x8_s`, `i32x4.add`, `local.set $a${m}_1`);
    }
  }
  for (const m of ms) e.emit(`local.get $x${m}`, `i32.const 8`, `i32.add`, `local.set $x${m}`);
  e.emit(`local.get $w`, `i32.const 64`, `i32.add`, `local.tee $w`, `local.get $gEnd`, `i32.lt_u`, `br_if $pairs`, `)`);
  // Group epilogue: facc += fround(s · sum) per lane, the product in float64.
  for (const h of range(2)) {
    e.emit(`local.get $s`, `v128.load offset=${16 * h} align=4`, `local.set $sv`);
    for (const m of ms) {
      e.emit(`local.get $a${m}_${h}`, `local.set $c`);
      e.emit(`local.get $sv`, `f64x2.promote_low_f32x4`, `local.get $c`, `f64x2.convert_low_i32x4_s`, `f64x2.mul`, `f32x4.demote_f64x2_zero`);
      e.emit(`local.get $sv`, `local.get $sv`, `i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15`, `f64x2.promote_low_f32x4`,
        `local.get $c`, `local.get $c`, `i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15`, `f64x2.convert_low_i32x4_s`,
        `f64x2.mul`, `f32x4.demote_f64x2_zero`);
      e.emit(`i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23`, `local.set $f`);
      e.emit(`local.get $tmp`, `local.get $tmp`, `v128.load offset=${32 * m + 16 * h} align=4`, `local.get $f`, `f32x4.add`, `v128.store offset=${32 * m + 16 * h} align=4`);
    }
  }
  e.emit(`local.get $s`, `i32.const 32`, `i32.add`, `local.set $s`);
  e.emit(`local.get $w`, `local.get $wEnd`, `i32.lt_u`, `br_if $groups`, `)`);
  for (const m of ms) {
    e.emit(`local.get $sx`, `v128.load32_splat offset=${4 * m} align=4`, `local.set $sv`);
    for (const h of range(2)) e.emit(`local.get $tmp`, `local.get $tmp`, `v128.load offset=${32 * m + 16 * h} align=4`, `local.get $sv`, `f32x4.mul`, `v128.store offset=${32 * m + 16 * h} align=4`);
    e.emit(`local.get $y`);
    if (m > 0) e.emit(`local.get $N`, `i32.const ${4 * m}`, `i32.mul`, `i32.add`);
    e.emit(`local.set $dst`, `i32.const 0`, `local.set $i`);
    e.emit(`(loop $copy`,
      `local.get $dst local.get $i i32.const 2 i32.shl i32.add`,
      `local.get $tmp local.get $i i32.const 2 i32.shl i32.add f32.load offset=${32 * m} align=4`,
      `f32.store align=4`,
      `local.get $i i32.const 1 i32.add local.tee $i local.get $left i32.const 8 local.get $left i32.const 8 i32.lt_u select i32.lt_u br_if $copy)`);
  }
  e.emit(`)`);
}

/**
 * gemm_a8_b<bits>(x, packed, scales, zeros, y, M, N, K, g, words, scratch): scratch holds xq
 * (2·M·K bytes, rounded up to 16), sx (4·M, rounded up), wb (16·K), sb (32·K/g) and facc (128).
 */
function gemmA8(e: Emitter, bits: number): void {
  const name = gemmA8ExportName(bits);
  e.emit(`(func $${name} (export "${name}") (param $x i32) (param $packed i32) (param $scales i32) (param $zeros i32) (param $y i32)`,
    `(param $M i32) (param $N i32) (param $K i32) (param $g i32) (param $words i32) (param $scratch i32)`,
    `(local $n0 i32) (local $m0 i32) (local $left i32) (local $xq i32) (local $sx i32) (local $wb i32) (local $sb i32) (local $tmp i32)`);
  const up16 = [`i32.const 15`, `i32.add`, `i32.const -16`, `i32.and`];
  e.emit(`local.get $scratch`, `local.tee $xq`, `local.get $M`, `local.get $K`, `i32.mul`, `i32.const 1`, `i32.shl`, ...up16, `i32.add`, `local.tee $sx`,
    `local.get $M`, `i32.const 2`, `i32.shl`, ...up16, `i32.add`, `local.tee $wb`, `local.get $K`, `i32.const 4`, `i32.shl`, `i32.add`, `local.tee $sb`,
    `local.get $K`, `local.get $g`, `i32.div_u`, `i32.const 5`, `i32.shl`, `i32.add`, `local.set $tmp`);
  e.emit(`local.get $x`, `local.get $M`, `local.get $K`, `local.get $xq`, `local.get $sx`, `call $prep_q16`);
  e.emit(`i32.const 0`, `local.set $n0`);
  e.emit(`(loop $blocks`);
  for (const h of range(2)) {
    e.emit(`local.get $packed`, `local.get $scales`, `local.get $zeros`, `local.get $n0`, `i32.const ${4 * h}`, `i32.add`, `local.get $N`, `local.get $K`, `local.get $g`, `local.get $words`,
      `local.get $wb`, `i32.const ${16 * h}`, `i32.add`, `local.get $sb`, `i32.const ${16 * h}`, `i32.add`, `call $deq4_a8_b${bits}`);
  }
  e.emit(`local.get $N`, `local.get $n0`, `i32.sub`, `local.set $left`, `i32.const 0`, `local.set $m0`);
  for (const t of GEMM_M_TILES) {
    e.emit(`(block $done${t}`, `(loop $tile${t}`, `local.get $M`, `local.get $m0`, `i32.sub`, `i32.const ${t}`, `i32.lt_u`, `br_if $done${t}`);
    e.emit(`local.get $xq`, `local.get $m0`, `local.get $K`, `i32.mul`, `i32.const 1`, `i32.shl`, `i32.add`,
      `local.get $wb`, `local.get $sb`, `local.get $sx`, `local.get $m0`, `i32.const 2`, `i32.shl`, `i32.add`,
      `local.get $y`, `local.get $m0`, `local.get $N`, `i32.mul`, `local.get $n0`, `i32.add`, `i32.const 2`, `i32.shl`, `i32.add`,
      `local.get $K`, `local.get $N`, `local.get $g`, `local.get $left`, `local.get $tmp`, `call $mka8_${t}`);
    e.emit(`local.get $m0`, `i32.const ${t}`, `i32.add`, `local.set $m0`, `br $tile${t}`, `))`);
  }
  e.emit(`local.get $n0`, `i32.const ${GEMM_ROWS}`, `i32.add`, `local.tee $n0`, `local.get $N`, `i32.lt_u`, `br_if $blocks`, `)`);
  e.emit(`)`);
}

/** The W4A8 GEMM path (bit widths with an a8 kernel). */
export function gemmA8Functions(e: Emitter, bitsList: readonly number[]): void {
  prepQ16(e);
  for (const t of GEMM_M_TILES) microKernelA8(e, t);
  for (const bits of bitsList) {
    deq4A8(e, bits);
    gemmA8(e, bits);
  }
}
