// Small statistics helpers shared by the benchmarks: medians and spread, never single runs.
export function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))];
  return { n: s.length, median: q(0.5), p10: q(0.1), p90: q(0.9), min: s[0], max: s[s.length - 1] };
}

export const ms = (x) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;

/** Interleave runs of several commands (A B A B …) so machine noise hits them alike. */
export async function interleaved(runs, fns) {
  const samples = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) {
    for (const [name, fn] of Object.entries(fns)) samples[name].push(await fn());
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
}

/** The environment that puts the repo's stand-in Dynamo on PATH (as e2e/test/cluster/harness.ts's standinEnv). */
export function standinEnv(repo) {
  const runtime = `${repo}/testbed/runtime`;
  return {
    ...process.env,
    PATH: `${runtime}/bin:${process.env.PATH}`,
    PYTHONPATH: `${runtime}/python`,
    NO_COLOR: "1",
  };
}
