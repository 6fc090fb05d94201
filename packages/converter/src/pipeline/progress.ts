/** How stages report progress and time (not written to disk: output stays deterministic). */
import type { Stage } from '../options.js';

export type Progress = (stage: Stage, done: number, total: number, detail?: string) => void;

export class Clock {
  readonly timings: Partial<Record<Stage, number>> = {};
  private t = Date.now();
  lap(stage: Stage): void {
    const now = Date.now();
    this.timings[stage] = (this.timings[stage] ?? 0) + (now - this.t);
    this.t = now;
  }
}
