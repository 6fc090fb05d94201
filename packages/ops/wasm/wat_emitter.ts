/** A line buffer for generated WebAssembly text. */
export class Emitter {
  readonly lines: string[] = [];
  emit(...l: string[]): void { for (const s of l) this.lines.push(s); }
}

export function range(n: number): number[] { return Array.from({ length: n }, (_, i) => i); }

export type QmmMode = 'f32' | 'a8';

/**
 * Gathers one 32-bit word of each of four rows into v128 local `dst` (lane i from row i): at byte
 * offset `off` from the row's pointer local, plus the value `offsetExpr` pushes when it is given.
 */
export function gather4(e: Emitter, rowPtr: (i: number) => string, offsetExpr: readonly string[], off: number, dst: string): void {
  for (const i of range(4)) {
    e.emit(`local.get ${rowPtr(i)}`, ...offsetExpr);
    if (offsetExpr.length > 0) e.emit(`i32.add`);
    if (i === 0) e.emit(`v128.load32_zero offset=${off} align=4`);
    else e.emit(`local.get ${dst}`, `v128.load32_lane offset=${off} align=4 ${i}`);
    e.emit(`local.set ${dst}`);
  }
}
