/**
 * Progress bars on stderr: redrawn in place on a TTY, one line per stage (start and end) otherwise,
 * so logs of CI runs stay short.
 */
export interface ProgressSink {
  update(stage: string, done: number, total: number, detail?: string): void;
  end(): void;
}

export function progressBars(stream: NodeJS.WriteStream = process.stderr, enabled = true): ProgressSink {
  const tty = Boolean(stream.isTTY);
  let current = '';
  let started = 0;
  let lastDraw = 0;
  const finish = (): void => {
    if (!current) return;
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    if (tty) stream.write(`\r\x1b[K${current}: done in ${secs}s\n`);
    else stream.write(`${current}: done in ${secs}s\n`);
    current = '';
  };
  return {
    update(stage, done, total, detail) {
      if (!enabled) return;
      if (stage !== current) {
        finish();
        current = stage;
        started = Date.now();
        if (!tty) stream.write(`${stage}: ${total} step${total === 1 ? '' : 's'}...\n`);
      }
      if (tty) {
        const now = Date.now();
        if (now - lastDraw < 80 && done < total) return;
        lastDraw = now;
        const width = 28;
        const frac = total > 0 ? Math.min(1, done / total) : 1;
        const filled = Math.round(frac * width);
        const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
        const cols = stream.columns || 100;
        const line = `${stage.padEnd(12)} ${bar} ${String(Math.round(frac * 100)).padStart(3)}% ${done}/${total}${detail ? `  ${detail}` : ''}`;
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
