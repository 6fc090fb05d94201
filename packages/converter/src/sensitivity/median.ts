/**
 * Median clamp of the modality ratios (docs/algorithm.md §3.5): r[i] = max(ratio[i], median(ratio)).
 * For an even count the median is the LOWER of the two middle values, as torch.median returns.
 */
export function lowerMedian(values: readonly number[]): number {
  if (values.length === 0) throw new Error('lowerMedian: no values');
  for (const v of values) if (Number.isNaN(v)) throw new Error('lowerMedian: NaN among the values');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export function clampByMedian(values: readonly number[]): { median: number; clamped: number[] } {
  const median = lowerMedian(values);
  return { median, clamped: values.map((v) => Math.max(v, median)) };
}
