/**
 * The "chunk lanes" kernels: the fast path when K and groupSize are multiples of the chunk
 * (laneChunkCodes: 64 codes at 2 bits, 32 at 4, 16 at 8, 128 at 3/5/6/7).
 *
 * A row's chunk is read as four lanes of consecutive codes: when bits divides 32 a lane is one
 * word of whole codes (one v128 load per chunk, no gather), else a lane is one 32-code block (its
 * words gathered with load32_lane at constant offsets). So the four lanes of "slot" j hold codes
 * at the same bit offset, one and (+ convert) decodes four codes, and the matching x values sit
 * side by side in xs, which prep_lanes_* has permuted (xs[chunk + 4j + i] = x[chunk + i·P + j],
 * scaled by 2^-s like quantized_matmul_wat.ts) once per call: one v128 load of x feeds every row
 * of the tile. Four rows (M tile 1) or two (M tiles 2, 4) are decoded per slot. Each lane keeps
 * its own sums; per group, y += s · (acc - z · Σx) lane-wise with Σx split by lane (prep), and
 * the four lanes are added at the end. W4A8 truncates each chunk's exact float sums into int32
 * (|lane sum| <= 128·15·8 per chunk) and combines groups like the reference (see the other file).
 */
import { Emitter, range, type QmmMode } from './wat_emitter.js';

/** Codes a lane holds in one chunk. */
function laneCodes(bits: number): number { return 32 % bits === 0 ? 32 / bits : 32; }
/** Codes per chunk (four lanes). */
export function laneChunkCodes(bits: number): number { return 4 * laneCodes(bits); }
export function laneKernelName(bits: number, mTile: number, mode: QmmMode): string { return `lane_${mode}_b${bits}_m${mTile}`; }

export function laneKernel(e: Emitter, bits: number, mTile: number, mode: QmmMode): void {
  const P = laneCodes(bits);
  const C = 4 * P;
  const wholeWord = 32 % bits === 0;
  const chunkBytes = (C * bits) / 8;
  const R = mTile === 1 ? 4 : 2;
  const mask = (1 << bits) - 1;
  const name = laneKernelName(bits, mTile, mode);
  const rows = range(R);
  const ms = range(mTile);
  e.emit(`(func $${name} (export "${name}")`,
    `(param $xs i32) (param $xsl i32) (param $packed i32) (param $scales i32) (param $zeros i32) (param $y i32)`,
    `(param $m0 i32) (param $N i32) (param $K i32) (param $g i32) (param $words i32) (param $sx i32)`);
  const i32s = ['$G', '$n0', '$gi', '$kc', '$kGroupEnd', '$row', '$xsb', '$a', '$h'];
  for (const r of rows) i32s.push(`$p${r}`, `$sp${r}`, `$zp${r}`);
  for (const m of ms) i32s.push(`$xb${m}`);
  const f32s: string[] = ['$s', '$z'];
  const vs = ['$cf', '$c'];
  for (const r of rows) vs.push(`$w${r}`, `$wn${r}`);
  for (const m of ms) {
    vs.push(`$xv${m}`, `$xsum${m}`);
    for (const r of rows) {
      vs.push(`$acc${m}_${r}`);
      if (mode === 'f32') vs.push(`$tot${m}_${r}`);
      else { vs.push(`$ia${m}_${r}`); f32s.push(`$ts${m}_${r}`); }
    }
  }
  e.emit(i32s.map((l) => `(local ${l} i32)`).join(' '));
  e.emit(f32s.map((l) => `(local ${l} f32)`).join(' '));
  e.emit(vs.map((l) => `(local ${l} v128)`).join(' '));
  const zero = 'v128.const i32x4 0 0 0 0';
  e.emit(`local.get $K`, `local.get $g`, `i32.div_u`, `local.set $G`, `i32.const 0`, `local.set $n0`);
  e.emit(`(loop $rows`);
  for (const r of rows) {
    e.emit(`local.get $n0`, `i32.const ${r}`, `i32.add`, `local.get $N`, `i32.const 1`, `i32.sub`,
      `local.get $n0`, `i32.const ${r}`, `i32.add`, `local.get $N`, `i32.lt_u`, `select`, `local.set $row`);
    e.emit(`local.get $packed`, `local.get $row`, `local.get $words`, `i32.mul`, `i32.const 2`, `i32.shl`, `i32.add`, `local.set $p${r}`);
    e.emit(`local.get $row`, `local.get $G`, `i32.mul`, `i32.const 2`, `i32.shl`, `local.tee $row`, `local.get $scales`, `i32.add`, `local.set $sp${r}`);
    e.emit(`local.get $row`, `local.get $zeros`, `i32.add`, `local.set $zp${r}`);
    for (const m of ms) {
      if (mode === 'f32') e.emit(zero, `local.set $tot${m}_${r}`);
      else e.emit(`f32.const 0`, `local.set $ts${m}_${r}`);
    }
  }
  e.emit(`i32.const 0`, `local.set $gi`, `i32.const 0`, `local.set $kc`);
  e.emit(`(loop $groups`);
  e.emit(`local.get $kc`, `local.get $g`, `i32.add`, `local.set $kGroupEnd`);
  for (const m of ms) for (const r of rows) {
    e.emit(zero, `local.set $acc${m}_${r}`);
    if (mode === 'a8') e.emit(zero, `local.set $ia${m}_${r}`);
  }
  e.emit(`(loop $chunks`);
  for (const m of ms) {
    e.emit(`local.get $m0`, `i32.const ${m}`, `i32.add`, `local.get $K`, `i32.mul`, `local.get $kc`, `i32.add`, `i32.const 2`, `i32.shl`, `local.get $xs`, `i32.add`, `local.set $xb${m}`);
  }
  // Lane i of word-run t: the chunk's word t (whole-word lanes: one v128), or word i·bits + t.
  const loadRun = (r: number, t: number, dst: string): void => {
    if (wholeWord) { e.emit(`local.get $p${r}`, `v128.load offset=${16 * t} align=4`, `local.set ${dst}`); return; }
    for (const i of range(4)) {
      e.emit(`local.get $p${r}`);
      if (i === 0) e.emit(`v128.load32_zero offset=${4 * t} align=4`);
      else e.emit(`local.get ${dst}`, `v128.load32_lane offset=${4 * (i * bits + t)} align=4 ${i}`);
      e.emit(`local.set ${dst}`);
    }
  };
  let cur = -1;
  let wnHolds = -1;
  for (const j of range(P)) {
    const bit = j * bits;
    const t = bit >> 5;
    const s = bit & 31;
    for (const m of ms) e.emit(`local.get $xb${m}`, `v128.load offset=${16 * j} align=4`, `local.set $xv${m}`);
    const moveNext = t !== cur && wnHolds === t;
    for (const r of rows) {
      if (t !== cur) {
        if (moveNext) e.emit(`local.get $wn${r}`, `local.set $w${r}`);
        else loadRun(r, t, `$w${r}`);
      }
      if (s + bits <= 31) {
        e.emit(`local.get $w${r}`, `v128.const i32x4 ${mask << s} ${mask << s} ${mask << s} ${mask << s}`, `v128.and`);
      } else if (s + bits === 32) {
        e.emit(`local.get $w${r}`, `i32.const ${s}`, `i32x4.shr_u`);
      } else {
        loadRun(r, t + 1, `$wn${r}`);
        e.emit(`local.get $w${r}`, `i32.const ${s}`, `i32x4.shr_u`, `local.get $wn${r}`, `i32.const ${32 - s}`, `i32x4.shl`, `v128.or`,
          `v128.const i32x4 ${mask} ${mask} ${mask} ${mask}`, `v128.and`);
      }
      e.emit(`f32x4.convert_i32x4_s`, `local.set $cf`);
      for (const m of ms) {
        e.emit(`local.get $acc${m}_${r}`, `local.get $xv${m}`, `local.get $cf`, `f32x4.mul`, `f32x4.add`, `local.set $acc${m}_${r}`);
      }
    }
    if (t !== cur) cur = t;
    if (s + bits > 32) wnHolds = t + 1;
  }
  if (mode === 'a8') {
    for (const m of ms) for (const r of rows) {
      e.emit(`local.get $ia${m}_${r}`, `local.get $acc${m}_${r}`, `i32x4.trunc_sat_f32x4_s`, `i32x4.add`, `local.set $ia${m}_${r}`, zero, `local.set $acc${m}_${r}`);
    }
  }
  for (const r of rows) e.emit(`local.get $p${r}`, `i32.const ${chunkBytes}`, `i32.add`, `local.set $p${r}`);
  e.emit(`local.get $kc`, `i32.const ${C}`, `i32.add`, `local.tee $kc`, `local.get $kGroupEnd`, `i32.lt_u`, `br_if $chunks`, `)`);
  // Group epilogue.
  for (const m of ms) {
    e.emit(`local.get $m0`, `i32.const ${m}`, `i32.add`, `local.get $G`, `i32.mul`, `local.get $gi`, `i32.add`, `i32.const 4`, `i32.shl`, `local.get $xsl`, `i32.add`,
      `v128.load align=4`, `local.set $xsum${m}`);
  }
  for (const r of rows) {
    e.emit(`local.get $sp${r}`, `local.get $gi`, `i32.const 2`, `i32.shl`, `i32.add`, `f32.load align=4`, `local.set $s`);
    e.emit(`local.get $zp${r}`, `local.get $gi`, `i32.const 2`, `i32.shl`, `i32.add`, `f32.load align=4`, `local.set $z`);
    for (const m of ms) {
      if (mode === 'f32') {
        e.emit(`local.get $acc${m}_${r}`, `local.get $z`, `f32x4.splat`, `local.get $xsum${m}`, `f32x4.mul`, `f32x4.sub`,
          `local.get $s`, `f32x4.splat`, `f32x4.mul`, `local.get $tot${m}_${r}`, `f32x4.add`, `local.set $tot${m}_${r}`);
      } else {
        // Σ_lanes (Σqx·q - z·Σqx) in int32 (exact), then fround(s · acc) in float64, added in float32.
        e.emit(`local.get $ia${m}_${r}`, `local.get $z`, `i32.trunc_sat_f32_s`, `i32x4.splat`, `local.get $xsum${m}`, `i32x4.mul`, `i32x4.sub`, `local.set $c`);
        e.emit(`local.get $c`, `i32x4.extract_lane 0`, `local.get $c`, `i32x4.extract_lane 1`, `i32.add`,
          `local.get $c`, `i32x4.extract_lane 2`, `i32.add`, `local.get $c`, `i32x4.extract_lane 3`, `i32.add`, `local.set $h`);
        e.emit(`local.get $ts${m}_${r}`, `local.get $s`, `f64.promote_f32`, `local.get $h`, `f64.convert_i32_s`, `f64.mul`, `f32.demote_f64`, `f32.add`, `local.set $ts${m}_${r}`);
      }
    }
  }
  e.emit(`local.get $gi`, `i32.const 1`, `i32.add`, `local.tee $gi`, `local.get $G`, `i32.lt_u`, `br_if $groups`, `)`);
  // y[m0+m, n0+r] for the rows that exist.
  for (const r of rows) {
    e.emit(`(if (i32.lt_u (i32.add (local.get $n0) (i32.const ${r})) (local.get $N)) (then`);
    for (const m of ms) {
      e.emit(`local.get $m0`, `i32.const ${m}`, `i32.add`, `local.get $N`, `i32.mul`, `local.get $n0`, `i32.add`, `i32.const ${r}`, `i32.add`, `i32.const 2`, `i32.shl`, `local.get $y`, `i32.add`);
      if (mode === 'f32') {
        e.emit(`local.get $tot${m}_${r}`, `f32x4.extract_lane 0`, `local.get $tot${m}_${r}`, `f32x4.extract_lane 1`, `f32.add`,
          `local.get $tot${m}_${r}`, `f32x4.extract_lane 2`, `local.get $tot${m}_${r}`, `f32x4.extract_lane 3`, `f32.add`, `f32.add`);
      } else {
        e.emit(`local.get $ts${m}_${r}`, `local.get $sx`, `local.get $m0`, `i32.const ${m}`, `i32.add`, `i32.const 2`, `i32.shl`, `i32.add`, `f32.load align=4`, `f32.mul`);
      }
      e.emit(`f32.store align=4`);
    }
    e.emit(`))`);
  }
  e.emit(`local.get $n0`, `i32.const ${R}`, `i32.add`, `local.tee $n0`, `local.get $N`, `i32.lt_u`, `br_if $rows`, `)`);
  e.emit(`)`);
}

export function prepLanesName(bits: number, mode: QmmMode): string { return `prep_lanes_${mode}_b${bits}`; }

/**
 * prep_lanes_<mode>_b<bits>: xs in the chunk-lane order with the 2^-s factors (slot j of a chunk
 * = x[chunk + i·P + j] for lanes i, one gather per slot); Σx (f32) or Σqx (i32) per
 * (m, group, lane); a8 also the token scales sx, quantizing exactly as prep_i8 (f32x4.div and
 * f32x4.nearest round like their scalar forms). Needs K and groupSize multiples of the chunk.
 */
export function prepLanes(e: Emitter, bits: number, mode: QmmMode): void {
  const P = laneCodes(bits);
  const C = 4 * P;
  const name = prepLanesName(bits, mode);
  e.emit(`(func $${name} (export "${name}") (param $x i32) (param $M i32) (param $K i32) (param $g i32) (param $xs i32) (param $xsl i32) (param $sx i32)`,
    `(local $m i32) (local $k i32) (local $kEnd i32) (local $src i32) (local $dst i32) (local $sl i32)`,
    `(local $amax v128) (local $scale v128) (local $v v128) (local $q v128) (local $sum v128)`);
  e.emit(`local.get $xs`, `local.set $dst`, `local.get $xsl`, `local.set $sl`, `i32.const 0`, `local.set $m`);
  e.emit(`(loop $m_loop`);
  e.emit(`local.get $x`, `local.get $m`, `local.get $K`, `i32.mul`, `i32.const 2`, `i32.shl`, `i32.add`, `local.set $src`);
  if (mode === 'a8') {
    // amax over the token (K is a multiple of 16 here), then scale = max(amax, 1e-5) / 127.
    e.emit(`v128.const i32x4 0 0 0 0`, `local.set $amax`, `i32.const 0`, `local.set $k`);
    e.emit(`(loop $amax_loop`, `local.get $amax`, `local.get $src`, `local.get $k`, `i32.const 2`, `i32.shl`, `i32.add`, `v128.load align=4`, `f32x4.abs`, `f32x4.max`, `local.set $amax`,
      `local.get $k`, `i32.const 4`, `i32.add`, `local.tee $k`, `local.get $K`, `i32.lt_u`, `br_if $amax_loop`, `)`);
    e.emit(`local.get $amax`, `f32x4.extract_lane 0`, `local.get $amax`, `f32x4.extract_lane 1`, `f32.max`,
      `local.get $amax`, `f32x4.extract_lane 2`, `local.get $amax`, `f32x4.extract_lane 3`, `f32.max`, `f32.max`,
      `f32.const 1e-5`, `f32.max`, `f32.const 127`, `f32.div`, `f32x4.splat`, `local.set $scale`);
    e.emit(`local.get $sx`, `local.get $m`, `i32.const 2`, `i32.shl`, `i32.add`, `local.get $scale`, `f32x4.extract_lane 0`, `f32.store align=4`);
  }
  e.emit(`i32.const 0`, `local.set $k`);
  e.emit(`(loop $group_loop`, `v128.const i32x4 0 0 0 0`, `local.set $sum`, `local.get $k`, `local.get $g`, `i32.add`, `local.set $kEnd`);
  e.emit(`(loop $chunk_loop`);
  for (let j = 0; j < P; j++) {
    const s = (j * bits) & 31;
    const f = s + bits <= 31 ? 2 ** -s : 1;
    for (let i = 0; i < 4; i++) {
      e.emit(`local.get $src`);
      if (i === 0) e.emit(`v128.load32_zero offset=${4 * j} align=4`);
      else e.emit(`local.get $v`, `v128.load32_lane offset=${4 * (i * P + j)} align=4 ${i}`);
      e.emit(`local.set $v`);
    }
    if (mode === 'a8') {
      e.emit(`local.get $v`, `local.get $scale`, `f32x4.div`, `f32x4.nearest`, `v128.const f32x4 -128 -128 -128 -128`, `f32x4.max`,
        `v128.const f32x4 127 127 127 127`, `f32x4.min`, `i32x4.trunc_sat_f32x4_s`, `local.tee $q`,
        `local.get $sum`, `i32x4.add`, `local.set $sum`, `local.get $q`, `f32x4.convert_i32x4_s`, `local.set $v`);
    } else {
      e.emit(`local.get $sum`, `local.get $v`, `f32x4.add`, `local.set $sum`);
    }
    e.emit(`local.get $dst`, `local.get $v`);
    if (f !== 1) e.emit(`v128.const f32x4 ${f} ${f} ${f} ${f}`, `f32x4.mul`);
    e.emit(`v128.store offset=${16 * j} align=4`);
  }
  e.emit(`local.get $src`, `i32.const ${4 * C}`, `i32.add`, `local.set $src`, `local.get $dst`, `i32.const ${4 * C}`, `i32.add`, `local.set $dst`);
  e.emit(`local.get $k`, `i32.const ${C}`, `i32.add`, `local.tee $k`, `local.get $kEnd`, `i32.lt_u`, `br_if $chunk_loop`, `)`);
  e.emit(`local.get $sl`, `local.get $sum`, `v128.store align=4`, `local.get $sl`, `i32.const 16`, `i32.add`, `local.set $sl`);
  e.emit(`local.get $k`, `local.get $K`, `i32.lt_u`, `br_if $group_loop`, `)`);
  e.emit(`local.get $m`, `i32.const 1`, `i32.add`, `local.tee $m`, `local.get $M`, `i32.lt_u`, `br_if $m_loop`, `)`);
  e.emit(`)`);
}
