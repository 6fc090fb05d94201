/** A line buffer for generated WebAssembly text. */
export class Emitter {
  readonly lines: string[] = [];
  emit(...l: string[]): void { for (const s of l) this.lines.push(s); }
}

export function range(n: number): number[] { return Array.from({ length: n }, (_, i) => i); }

export type QmmMode = 'f32' | 'a8';
