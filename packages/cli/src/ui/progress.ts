/**
 * Progress bars on stderr: redrawn in place on a TTY with the elapsed time and an estimate of the
 * time left; one line per stage (start, and end with its time) otherwise, so logs of CI runs stay short.
 */
export interface ProgressSink {
  /** `done` of `total` in `stage`; `unit: 'bytes'` shows them in KiB/MiB/GiB. */
  update(stage: string, done: number, total: number, detail?: string, unit?: 'count' | 'bytes'): void;
  end(): void;
}

export interface ProgressOptions {
  /** Clock in ms (tests). */
  now?: () => number;
}

/** 1.5 MiB, 512 KiB, 12 B. */
export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

/** 1.2s, 42s, 3m05s, 1h02m. */
export function formatDuration(ms: number): string {
  if (ms < 9950) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Time left at the stage's average rate so far: none before the first step is done or before a
 * second has passed (too little to go on).
 */
export function estimateLeft(elapsedMs: number, done: number, total: number): number | undefined {
  if (done <= 0 || done >= total || elapsedMs < 1000) return undefined;
  return (elapsedMs / done) * (total - done);
}

export function progressBars(stream: NodeJS.WriteStream = process.stderr, enabled = true, options: ProgressOptions = {}): ProgressSink {
  const now = options.now ?? Date.now;
  const tty = Boolean(stream.isTTY);
  let current = '';
  let started = 0;
  let lastDraw = -Infinity;
  const finish = (): void => {
    if (!current) return;
    const took = formatDuration(now() - started);
    if (tty) stream.write(`\r\x1b[K${current}: done in ${took}\n`);
    else stream.write(`${current}: done in ${took}\n`);
    current = '';
  };
  return {
    update(stage, done, total, detail, unit = 'count') {
      if (!enabled) return;
      const amount = (n: number): string => (unit === 'bytes' ? formatBytes(n) : String(n));
      if (stage !== current) {
        finish();
        current = stage;
        started = now();
        lastDraw = -Infinity;
        if (!tty) stream.write(`${stage}: ${unit === 'bytes' ? amount(total) : `${total} step${total === 1 ? '' : 's'}`}...\n`);
      }
      if (tty) {
        const t = now();
        if (t - lastDraw < 80 && done < total) return;
        lastDraw = t;
        const width = 28;
        const frac = total > 0 ? Math.min(1, done / total) : 1;
        const filled = Math.round(frac * width);
        const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
        const cols = stream.columns || 100;
        const left = estimateLeft(t - started, done, total);
        const time = `${formatDuration(t - started)}${left === undefined ? '' : `, ~${formatDuration(left)} left`}`;
        const line = `${stage.padEnd(12)} ${bar} ${String(Math.round(frac * 100)).padStart(3)}% ${amount(done)}/${amount(total)} ${time}${detail ? `  ${detail}` : ''}`;
        stream.write(`\r\x1b[K${line.slice(0, cols - 1)}`);
      }
      if (done >= total) finish();
    },
    end() { if (enabled) finish(); },
  };
}

/** A plain text table with right-aligned numeric columns. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => cells.every((r) => /^[-+]?[\d.]+(e[-+]?\d+)?%?$/i.test(r[i] ?? '')));
  const fmt = (r: string[]): string => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [fmt(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(fmt)].join('\n');
}
