/**
 * WebAssembly text of the wasm SIMD kernel of MbqQuantizedMatMul, y[M, N] = x[M, K] · dequant(W)ᵀ
 * straight from the packed codes (docs/architecture.md "Packed low-bit weights").
 *
 * Why WebAssembly text (assembled by the `wabt` package, packages/ops/wasm/build.ts) and not
 * AssemblyScript: the module must import tfjs-backend-wasm's own memory and own nothing in it
 * (no data segments, no stack, no allocator: AssemblyScript's runtime wants all three), and the
 * inner loops are a handful of chosen SIMD instructions per four multiply-adds, which text states
 * exactly. The text is generated here, not typed by hand, because every bit width 2..8 gets its
 * own fully unrolled blocks of codes (the shifts and masks are constants) and M tiles.
 *
 * Layout the kernels work in:
 * - Four output rows at a time, one per v128 lane ("rows in lanes"): word t of rows n..n+3 is
 *   gathered with load32_lane, so every bit width and every straddling code is handled by the
 *   same lane-wise shifts, y[m, n..n+3] is one v128 store, and x[m, k] is a splat.
 * - Codes are not shifted down when they sit whole in bits [s, s+b) with s + b <= 31: the kernel
 *   masks them in place (c · 2^s, exact as an int32 and as a float32) and prep_* has scaled the
 *   matching x by 2^-s (exact), so one and + one convert give the float code. Codes in the top bits
 *   are shifted down, straddling codes are put together from two words; both pair with unscaled x.
 * - Zero points come out of the inner loop: per group, Σ x·(q - z) = Σ x·q - z·Σ x, with Σ x per
 *   (m, group) from prep_*.
 * - Float activations (act_bits 0): per group acc = Σ x·q (float32, 4 interleaved accumulators),
 *   y += s · (acc - z · Σx). Sums run in another order than the cpu reference.
 * - W4A8 (act_bits 8): prep_i8 quantizes x per token exactly as quantizeActivationsInt8; a block of
 *   32 products qx·q sums exactly in float32 (|sum| <= 128·15·32 < 2^24), is truncated to int32 and
 *   added to the group's int32 sum, then Σ qx·(q - z) = Σ qx·q - z·Σ qx in int32, and the group
 *   is combined like the reference: fround(s · acc) in float64, added in float32 in increasing
 *   group order, times the token's scale: bit-identical to the cpu reference.
 *
 * `fast` = groupSize % 32 == 0 or one group: whole 32-code blocks run unrolled, a K tail (one
 * group, K % 32 != 0) and any other group size run code by code with run-time shifts.
 *
 * The kernels here ("rows in lanes", qmm_*) are the general ones. When K and groupSize are
 * multiples of a chunk, the "chunk lanes" kernels (quantized_matmul_lanes_wat.ts, lane_*) run
 * instead: 1.4-1.6x faster (no gathers at 2/4/8 bits, one x load per slot for all rows).
 * From GEMM_MIN_M tokens on (float activations, groups of whole 32-code blocks), the GEMM kernel
 * (quantized_matmul_gemm_wat.ts, gemm_*) decodes each code once per call instead of once per tile.
 */

import { Emitter, gather4, range, type QmmMode } from './wat_emitter.js';
import { laneChunkCodes, laneKernel, laneKernelName, prepLanes, prepLanesName } from './quantized_matmul_lanes_wat.js';
import { gemmA8ExportName, gemmA8Functions, gemmExportName, gemmFunctions } from './quantized_matmul_gemm_wat.js';

export { gemmA8ExportName, gemmExportName, laneChunkCodes, laneKernelName, prepLanesName };
export type { QmmMode };

/** Bit widths with a kernel. */
export const QMM_BITS = [2, 3, 4, 5, 6, 7, 8] as const;
/** M tiles of the chunk-lanes kernels (quantized_matmul_lanes_wat.ts). */
export const LANE_M_TILES = [4, 2, 1] as const;
/** M tiles of the general kernels here (rare shapes: one tile keeps the module small). */
export const QMM_M_TILES = [1] as const;


/** Export name of the kernel for a bit width, M tile and activation mode. */
export function qmmExportName(bits: number, mTile: number, mode: QmmMode): string {
  return `qmm_${mode}_b${bits}_m${mTile}`;
}

const ROWS = 4;



/** Multiply-adds the float code in $cf into the accumulators of position `j` (constant x offset). */
function macConst(e: Emitter, mTile: number, accs: number, j: number): void {
  for (const m of range(mTile)) {
    const acc = `$a${m}_${j % accs}`;
    e.emit(`local.get ${acc}`, `local.get $xb${m}`, `v128.load32_splat offset=${4 * j} align=4`, `local.get $cf`, `f32x4.mul`, `f32x4.add`, `local.set ${acc}`);
  }
}

function kernel(e: Emitter, bits: number, mTile: number, mode: QmmMode): void {
  const mask = (1 << bits) - 1;
  const accs = mTile === 1 ? 4 : mTile === 2 ? 2 : 1;
  const name = qmmExportName(bits, mTile, mode);
  e.emit(`(func $${name} (export "${name}")`,
    `(param $xs i32) (param $xsum i32) (param $packed i32) (param $scales i32) (param $zeros i32) (param $y i32)`,
    `(param $m0 i32) (param $N i32) (param $K i32) (param $g i32) (param $words i32) (param $sx i32) (param $fast i32)`);
  const i32Locals = ['$G', '$n0', '$kb', '$k', '$gi', '$kFullEnd', '$kGroupEnd', '$K32', '$bitpos', '$wb', '$s', '$r', '$left'];
  for (const i of range(ROWS)) i32Locals.push(`$p${i}`, `$q${i}`, `$sp${i}`, `$zp${i}`);
  for (const m of range(mTile)) i32Locals.push(`$xb${m}`);
  e.emit(i32Locals.map((l) => `(local ${l} i32)`).join(' '));
  const vLocals = ['$w', '$wn', '$c', '$cf', '$sv', '$zv', '$t'];
  for (const m of range(mTile)) {
    vLocals.push(`$tot${m}`, `$ia${m}`);
    for (const j of range(accs)) vLocals.push(`$a${m}_${j}`);
  }
  e.emit(vLocals.map((l) => `(local ${l} v128)`).join(' '));

  e.emit(`local.get $K`, `local.get $g`, `i32.div_u`, `local.set $G`);
  // Whole blocks only on the fast path.
  e.emit(`local.get $K`, `i32.const -32`, `i32.and`, `i32.const 0`, `local.get $fast`, `select`, `local.set $K32`);
  e.emit(`i32.const 0`, `local.set $n0`);
  e.emit(`(loop $rows`);
  // Row pointers for rows n0..n0+3, clamped to N-1 (the tail's extra lanes are never stored).
  for (const i of range(ROWS)) {
    e.emit(`local.get $n0`, `i32.const ${i}`, `i32.add`, `local.get $N`, `i32.const 1`, `i32.sub`,
      `local.get $n0`, `i32.const ${i}`, `i32.add`, `local.get $N`, `i32.lt_u`, `select`, `local.set $r`);
    e.emit(`local.get $packed`, `local.get $r`, `local.get $words`, `i32.mul`, `i32.const 2`, `i32.shl`, `i32.add`, `local.tee $p${i}`, `local.set $q${i}`);
    e.emit(`local.get $r`, `local.get $G`, `i32.mul`, `i32.const 2`, `i32.shl`, `local.tee $r`, `local.get $scales`, `i32.add`, `local.set $sp${i}`);
    e.emit(`local.get $r`, `local.get $zeros`, `i32.add`, `local.set $zp${i}`);
  }
  for (const m of range(mTile)) e.emit(`v128.const i32x4 0 0 0 0`, `local.set $tot${m}`);
  e.emit(`i32.const 0`, `local.set $kb`, `i32.const 0`, `local.set $gi`);
  e.emit(`(loop $groups`);
  e.emit(`local.get $gi`, `i32.const 1`, `i32.add`, `local.get $g`, `i32.mul`, `local.tee $kGroupEnd`,
    `local.get $K32`, `local.get $kGroupEnd`, `local.get $K32`, `i32.lt_u`, `select`, `local.set $kFullEnd`);
  for (const m of range(mTile)) {
    e.emit(`v128.const i32x4 0 0 0 0`, `local.set $ia${m}`);
    for (const j of range(accs)) e.emit(`v128.const i32x4 0 0 0 0`, `local.set $a${m}_${j}`);
  }
  // Whole 32-code blocks: `bits` words per row, constant shifts.
  e.emit(`(block $noBlocks`, `local.get $kb`, `local.get $kFullEnd`, `i32.ge_u`, `br_if $noBlocks`);
  e.emit(`(loop $blocks`);
  for (const m of range(mTile)) {
    e.emit(`local.get $m0`, `i32.const ${m}`, `i32.add`, `local.get $K`, `i32.mul`, `local.get $kb`, `i32.add`, `i32.const 2`, `i32.shl`, `local.get $xs`, `i32.add`, `local.set $xb${m}`);
  }
  // $w holds word `cur` of the four rows; a straddling code leaves the next word in $wn.
  let cur = -1;
  let wnHolds = -1;
  const word = (t: number, dst: string): void => gather4(e, (i) => `$q${i}`, [], 4 * t, dst);
  for (const j of range(32)) {
    const bit = j * bits;
    const t = bit >> 5;
    const s = bit & 31;
    if (t !== cur) {
      if (wnHolds === t) e.emit(`local.get $wn`, `local.set $w`);
      else word(t, '$w');
      cur = t;
    }
    if (s + bits <= 31) {
      e.emit(`local.get $w`, `v128.const i32x4 ${mask << s} ${mask << s} ${mask << s} ${mask << s}`, `v128.and`);
    } else if (s + bits === 32) {
      e.emit(`local.get $w`, `i32.const ${s}`, `i32x4.shr_u`);
    } else {
      word(t + 1, '$wn');
      wnHolds = t + 1;
      e.emit(`local.get $w`, `i32.const ${s}`, `i32x4.shr_u`, `local.get $wn`, `i32.const ${32 - s}`, `i32x4.shl`, `v128.or`,
        `v128.const i32x4 ${mask} ${mask} ${mask} ${mask}`, `v128.and`);
    }
    e.emit(`f32x4.convert_i32x4_s`, `local.set $cf`);
    macConst(e, mTile, accs, j);
  }
  if (mode === 'a8') {
    // The block's float sums are exact integers: fold them into the int32 group sums.
    for (const m of range(mTile)) {
      e.emit(`local.get $ia${m}`, `local.get $a${m}_0`);
      for (const j of range(accs).slice(1)) e.emit(`local.get $a${m}_${j}`, `f32x4.add`);
      e.emit(`i32x4.trunc_sat_f32x4_s`, `i32x4.add`, `local.set $ia${m}`);
      for (const j of range(accs)) e.emit(`v128.const i32x4 0 0 0 0`, `local.set $a${m}_${j}`);
    }
  }
  for (const i of range(ROWS)) e.emit(`local.get $q${i}`, `i32.const ${4 * bits}`, `i32.add`, `local.set $q${i}`);
  e.emit(`local.get $kb`, `i32.const 32`, `i32.add`, `local.tee $kb`, `local.get $kFullEnd`, `i32.lt_u`, `br_if $blocks`);
  e.emit(`)`, `)`); // loop $blocks, block $noBlocks

  // Code by code (run-time shifts) up to the group's end.
  e.emit(`(block $noTail`, `local.get $kb`, `local.get $kGroupEnd`, `i32.ge_u`, `br_if $noTail`);
  e.emit(`(loop $tail`);
  e.emit(`local.get $kb`, `i32.const ${bits}`, `i32.mul`, `local.tee $bitpos`, `i32.const 5`, `i32.shr_u`, `i32.const 2`, `i32.shl`, `local.set $wb`);
  e.emit(`local.get $bitpos`, `i32.const 31`, `i32.and`, `local.set $s`);
  gather4(e, (i) => `$p${i}`, [`local.get $wb`], 0, '$w');
  e.emit(`(if (i32.le_u (i32.add (local.get $s) (i32.const ${bits})) (i32.const 31))`,
    `(then local.get $w i32.const ${mask} local.get $s i32.shl i32x4.splat v128.and local.set $c)`,
    `(else`,
    `(if (i32.eq (i32.add (local.get $s) (i32.const ${bits})) (i32.const 32))`,
    `(then local.get $w local.get $s i32x4.shr_u local.set $c)`,
    `(else`);
  gather4(e, (i) => `$p${i}`, [`local.get $wb`], 4, '$wn');
  e.emit(`local.get $w`, `local.get $s`, `i32x4.shr_u`, `local.get $wn`, `i32.const 32`, `local.get $s`, `i32.sub`, `i32x4.shl`, `v128.or`,
    `v128.const i32x4 ${mask} ${mask} ${mask} ${mask}`, `v128.and`, `local.set $c`);
  e.emit(`))))`);
  e.emit(`local.get $c`, `f32x4.convert_i32x4_s`, `local.set $cf`);
  for (const m of range(mTile)) {
    e.emit(`local.get $m0`, `i32.const ${m}`, `i32.add`, `local.get $K`, `i32.mul`, `local.get $kb`, `i32.add`, `i32.const 2`, `i32.shl`, `local.get $xs`, `i32.add`,
      `v128.load32_splat align=4`, `local.get $cf`, `f32x4.mul`);
    if (mode === 'a8') e.emit(`i32x4.trunc_sat_f32x4_s`, `local.get $ia${m}`, `i32x4.add`, `local.set $ia${m}`);
    else e.emit(`local.get $a${m}_0`, `f32x4.add`, `local.set $a${m}_0`);
  }
  e.emit(`local.get $kb`, `i32.const 1`, `i32.add`, `local.tee $kb`, `local.get $kGroupEnd`, `i32.lt_u`, `br_if $tail`);
  e.emit(`)`, `)`); // loop $tail, block $noTail

  // Group epilogue: scales and zeros of the four rows.
  gather4(e, (i) => `$sp${i}`, [`local.get $gi`, `i32.const 2`, `i32.shl`], 0, '$sv');
  gather4(e, (i) => `$zp${i}`, [`local.get $gi`, `i32.const 2`, `i32.shl`], 0, '$zv');
  for (const m of range(mTile)) {
    // Σx (f32) or Σqx (i32) of this token and group.
    const sumAddr = [`local.get $m0`, `i32.const ${m}`, `i32.add`, `local.get $G`, `i32.mul`, `local.get $gi`, `i32.add`, `i32.const 2`, `i32.shl`, `local.get $xsum`, `i32.add`];
    if (mode === 'f32') {
      e.emit(`local.get $a${m}_0`);
      for (const j of range(accs).slice(1)) e.emit(`local.get $a${m}_${j}`, `f32x4.add`);
      e.emit(`local.get $zv`, ...sumAddr, `v128.load32_splat align=4`, `f32x4.mul`, `f32x4.sub`,
        `local.get $sv`, `f32x4.mul`, `local.get $tot${m}`, `f32x4.add`, `local.set $tot${m}`);
    } else {
      // acc = Σqx·q - z·Σqx (int32, exact); p = fround(s · acc) computed in float64 like the reference.
      e.emit(`local.get $ia${m}`, `local.get $zv`, `i32x4.trunc_sat_f32x4_s`, ...sumAddr, `v128.load32_splat align=4`, `i32x4.mul`, `i32x4.sub`, `local.set $c`);
      e.emit(`local.get $sv`, `f64x2.promote_low_f32x4`, `local.get $c`, `f64x2.convert_low_i32x4_s`, `f64x2.mul`, `f32x4.demote_f64x2_zero`);
      e.emit(`local.get $sv`, `local.get $sv`, `i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15`, `f64x2.promote_low_f32x4`,
        `local.get $c`, `local.get $c`, `i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15`, `f64x2.convert_low_i32x4_s`,
        `f64x2.mul`, `f32x4.demote_f64x2_zero`);
      e.emit(`i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23`, `local.get $tot${m}`, `f32x4.add`, `local.set $tot${m}`);
    }
  }
  e.emit(`local.get $gi`, `i32.const 1`, `i32.add`, `local.tee $gi`, `local.get $G`, `i32.lt_u`, `br_if $groups`);
  e.emit(`)`); // loop $groups

  // Store y[m0+m, n0..n0+3] (only the rows that exist).
  e.emit(`local.get $N`, `local.get $n0`, `i32.sub`, `local.set $left`);
  for (const m of range(mTile)) {
    e.emit(`local.get $tot${m}`);
    if (mode === 'a8') e.emit(`local.get $sx`, `local.get $m0`, `i32.const ${m}`, `i32.add`, `i32.const 2`, `i32.shl`, `i32.add`, `v128.load32_splat align=4`, `f32x4.mul`);
    e.emit(`local.set $t`);
    e.emit(`local.get $m0`, `i32.const ${m}`, `i32.add`, `local.get $N`, `i32.mul`, `local.get $n0`, `i32.add`, `i32.const 2`, `i32.shl`, `local.get $y`, `i32.add`, `local.set $r`);
    e.emit(`(if (i32.ge_u (local.get $left) (i32.const 4))`,
      `(then local.get $r local.get $t v128.store align=4)`,
      `(else`,
      `local.get $r local.get $t v128.store32_lane align=4 0`,
      `(if (i32.ge_u (local.get $left) (i32.const 2)) (then local.get $r local.get $t v128.store32_lane offset=4 align=4 1))`,
      `(if (i32.ge_u (local.get $left) (i32.const 3)) (then local.get $r local.get $t v128.store32_lane offset=8 align=4 2))`,
      `))`);
  }
  e.emit(`local.get $n0`, `i32.const ${ROWS}`, `i32.add`, `local.tee $n0`, `local.get $N`, `i32.lt_u`, `br_if $rows`);
  e.emit(`)`); // loop $rows
  e.emit(`)`); // func
}

/**
 * The 2^-s factor prep gives x at position k (bit offset k·bits, s = bit offset mod 32): codes that
 * sit whole below bit 31 are masked in place (c · 2^s), all others are shifted down (factor 1).
 */
function emitPositionScale(e: Emitter): void {
  // $s = (k * bits) & 31; factor = s + bits <= 31 ? 2^-s : 1, as f32 bits (127 - s) << 23.
  e.emit(`local.get $k`, `local.get $bits`, `i32.mul`, `i32.const 31`, `i32.and`, `local.set $s`,
    `i32.const 127`, `local.get $s`, `i32.sub`, `i32.const 23`, `i32.shl`, `i32.const 0x3f800000`,
    `local.get $s`, `local.get $bits`, `i32.add`, `i32.const 31`, `i32.le_u`, `select`, `f32.reinterpret_i32`, `local.set $f`);
}

/** prep_f32: xs[m, k] = x[m, k] · factor(k); xsum[m, k / g] = Σ x over the group (float32, in k order). */
function prepF32(e: Emitter): void {
  e.emit(`(func $prep_f32 (export "prep_f32") (param $x i32) (param $M i32) (param $K i32) (param $bits i32) (param $g i32) (param $xs i32) (param $xsum i32)`,
    `(local $m i32) (local $k i32) (local $s i32) (local $i i32) (local $gs i32) (local $f f32) (local $v f32) (local $sum f32)`);
  e.emit(`(loop $m_loop`, `i32.const 0`, `local.set $k`, `f32.const 0`, `local.set $sum`, `i32.const 0`, `local.set $gs`);
  e.emit(`(loop $k_loop`);
  e.emit(`local.get $m`, `local.get $K`, `i32.mul`, `local.get $k`, `i32.add`, `i32.const 2`, `i32.shl`, `local.set $i`);
  emitPositionScale(e);
  e.emit(`local.get $x`, `local.get $i`, `i32.add`, `f32.load align=4`, `local.set $v`);
  e.emit(`local.get $xs`, `local.get $i`, `i32.add`, `local.get $v`, `local.get $f`, `f32.mul`, `f32.store align=4`);
  e.emit(`local.get $sum`, `local.get $v`, `f32.add`, `local.set $sum`);
  e.emit(`local.get $gs`, `i32.const 1`, `i32.add`, `local.tee $gs`, `local.get $g`, `i32.eq`,
    `(if (then`,
    `local.get $xsum`, `local.get $m`, `local.get $K`, `i32.mul`, `local.get $k`, `i32.add`, `local.get $g`, `i32.div_u`, `i32.const 2`, `i32.shl`, `i32.add`,
    `local.get $sum`, `f32.store align=4`, `f32.const 0`, `local.set $sum`, `i32.const 0`, `local.set $gs`, `))`);
  e.emit(`local.get $k`, `i32.const 1`, `i32.add`, `local.tee $k`, `local.get $K`, `i32.lt_u`, `br_if $k_loop`, `)`);
  e.emit(`local.get $m`, `i32.const 1`, `i32.add`, `local.tee $m`, `local.get $M`, `i32.lt_u`, `br_if $m_loop`, `)`);
  e.emit(`)`);
}

/**
 * prep_i8: per token, scale = fround(max(absmax, 1e-5) / 127), qx = clamp(nearest(x / scale)) (as
 * quantizeActivationsInt8); xs[m, k] = qx · factor(k); xsum[m, group] = Σ qx (int32); sx[m] = scale.
 */
function prepI8(e: Emitter): void {
  e.emit(`(func $prep_i8 (export "prep_i8") (param $x i32) (param $M i32) (param $K i32) (param $bits i32) (param $g i32) (param $xs i32) (param $xsum i32) (param $sx i32)`,
    `(local $m i32) (local $k i32) (local $s i32) (local $i i32) (local $gs i32) (local $q i32) (local $sum i32) (local $f f32) (local $amax f32) (local $scale f32)`);
  e.emit(`(loop $m_loop`);
  e.emit(`f32.const 0`, `local.set $amax`, `i32.const 0`, `local.set $k`);
  e.emit(`(loop $amax_loop`,
    `local.get $amax`, `local.get $x`, `local.get $m`, `local.get $K`, `i32.mul`, `local.get $k`, `i32.add`, `i32.const 2`, `i32.shl`, `i32.add`, `f32.load align=4`, `f32.abs`, `f32.max`, `local.set $amax`,
    `local.get $k`, `i32.const 1`, `i32.add`, `local.tee $k`, `local.get $K`, `i32.lt_u`, `br_if $amax_loop`, `)`);
  e.emit(`local.get $amax`, `f32.const 1e-5`, `f32.max`, `f32.const 127`, `f32.div`, `local.set $scale`);
  e.emit(`local.get $sx`, `local.get $m`, `i32.const 2`, `i32.shl`, `i32.add`, `local.get $scale`, `f32.store align=4`);
  e.emit(`i32.const 0`, `local.set $k`, `i32.const 0`, `local.set $sum`, `i32.const 0`, `local.set $gs`);
  e.emit(`(loop $k_loop`);
  e.emit(`local.get $m`, `local.get $K`, `i32.mul`, `local.get $k`, `i32.add`, `i32.const 2`, `i32.shl`, `local.set $i`);
  emitPositionScale(e);
  // q = clamp(nearest(x / scale), -128, 127)
  e.emit(`local.get $x`, `local.get $i`, `i32.add`, `f32.load align=4`, `local.get $scale`, `f32.div`, `f32.nearest`,
    `f32.const -128`, `f32.max`, `f32.const 127`, `f32.min`, `i32.trunc_sat_f32_s`, `local.set $q`);
  e.emit(`local.get $xs`, `local.get $i`, `i32.add`, `local.get $q`, `f32.convert_i32_s`, `local.get $f`, `f32.mul`, `f32.store align=4`);
  e.emit(`local.get $sum`, `local.get $q`, `i32.add`, `local.set $sum`);
  e.emit(`local.get $gs`, `i32.const 1`, `i32.add`, `local.tee $gs`, `local.get $g`, `i32.eq`,
    `(if (then`,
    `local.get $xsum`, `local.get $m`, `local.get $K`, `i32.mul`, `local.get $k`, `i32.add`, `local.get $g`, `i32.div_u`, `i32.const 2`, `i32.shl`, `i32.add`,
    `local.get $sum`, `i32.store align=4`, `i32.const 0`, `local.set $sum`, `i32.const 0`, `local.set $gs`, `))`);
  e.emit(`local.get $k`, `i32.const 1`, `i32.add`, `local.tee $k`, `local.get $K`, `i32.lt_u`, `br_if $k_loop`, `)`);
  e.emit(`local.get $m`, `i32.const 1`, `i32.add`, `local.tee $m`, `local.get $M`, `i32.lt_u`, `br_if $m_loop`, `)`);
  e.emit(`)`);
}

/** The whole module: imports `env.memory` (tfjs-backend-wasm's heap), exports prep_* and the kernels. */
export function quantizedMatMulWat(): string {
  const e = new Emitter();
  e.emit(`;; Generated by packages/ops/wasm/quantized_matmul_wat.ts; do not edit.`, `(module`, `(import "env" "memory" (memory 1))`);
  prepF32(e);
  prepI8(e);
  for (const bits of QMM_BITS) for (const mTile of QMM_M_TILES) kernel(e, bits, mTile, 'f32');
  for (const mTile of QMM_M_TILES) kernel(e, 4, mTile, 'a8');
  for (const bits of QMM_BITS) prepLanes(e, bits, 'f32');
  prepLanes(e, 4, 'a8');
  for (const bits of QMM_BITS) for (const mTile of LANE_M_TILES) laneKernel(e, bits, mTile, 'f32');
  for (const mTile of LANE_M_TILES) laneKernel(e, 4, mTile, 'a8');
  gemmFunctions(e, QMM_BITS);
  gemmA8Functions(e, [4]);
  e.emit(`)`);
  return e.lines.join('\n') + '\n';
}
