/** Order statistics of one bench step: percentiles by linear interpolation between closest ranks. */

export interface Summary {
  readonly count: number;
  readonly mean: number | null;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
}

/**
 * The p-th percentile (0 ≤ p ≤ 100) of ascending `sorted`, interpolating linearly between the two
 * closest ranks (NumPy's default "linear" method, which vLLM's `bench serve` reports with): rank
 * h = (n − 1)·p/100, value x[⌊h⌋] + (h − ⌊h⌋)·(x[⌈h⌉] − x[⌊h⌋]). Null for no values.
 */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const h = ((sorted.length - 1) * Math.min(100, Math.max(0, p))) / 100;
  const lo = Math.floor(h);
  const a = sorted[lo] as number;
  const b = sorted[Math.min(sorted.length - 1, lo + 1)] as number;
  return a + (h - lo) * (b - a);
}

/** Rounded to microseconds when the values are milliseconds (three decimals), keeping null. */
export const round3 = (v: number | null): number | null => (v === null ? null : Math.round(v * 1000) / 1000);

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length === 0 ? null : sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return {
    count: sorted.length,
    mean: round3(mean),
    p50: round3(percentile(sorted, 50)),
    p90: round3(percentile(sorted, 90)),
    p99: round3(percentile(sorted, 99)),
  };
}
