/**
 * The one line a command prints about its tfjs backend: which one and on what; what `auto`
 * skipped, and why, only with --verbose (those reasons run to several lines of library errors).
 */
import type { BackendReport } from '@tfjs-mbq/ops/backends';

export function backendLine(report: Pick<BackendReport, 'backend' | 'detail'>, verbose: boolean): string {
  const skipped = / \(skipped (.*)\)$/s.exec(report.detail);
  if (!skipped || verbose) return `backend: ${report.backend} (${report.detail})`;
  const names = skipped[1]!.split('; ').map((s) => s.split(':')[0]).join(', ');
  return `backend: ${report.backend} (${report.detail.slice(0, skipped.index)}; skipped ${names}: --verbose says why)`;
}
