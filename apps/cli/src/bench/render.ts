/** The sweep as text: CSV (results.csv, RFC 4180) and the table printed at the end of a run. */
import type { StepResult } from "./results.js";
import type { Summary } from "./stats.js";

type Cell = string | number | boolean | null;

/** One CSV field: quoted (quotes doubled) when it holds a comma, quote or line break; null is empty. */
export function csvField(v: Cell): string {
  if (v === null) return "";
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

const pcts = (name: string, s: Summary): Array<[string, Cell]> => [
  [`${name}_p50_ms`, s.p50],
  [`${name}_p90_ms`, s.p90],
  [`${name}_p99_ms`, s.p99],
  [`${name}_mean_ms`, s.mean],
];

/** The columns of one step, in order (the CSV header is their names). */
export function csvColumns(s: StepResult): Array<[string, Cell]> {
  return [
    ["concurrency", s.concurrency],
    ["requests", s.requests],
    ["answered", s.answered],
    ["errors", s.errors],
    ["duration_s", s.durationS],
    ...pcts("ttft", s.ttftMs),
    ...pcts("itl", s.itlMs),
    ...pcts("latency", s.latencyMs),
    ["output_tokens", s.outputTokens],
    ["output_tokens_per_s", s.outputTokensPerS],
    ["requests_per_s", s.requestsPerS],
    ["input_tokens_mean", s.inputTokensMean],
    ["interrupted", s.interrupted],
  ];
}

export function renderCsv(steps: readonly StepResult[]): string {
  const header = steps[0] ? csvColumns(steps[0]).map(([k]) => k) : [];
  const rows = steps.map((s) => csvColumns(s).map(([, v]) => csvField(v)));
  return [header, ...rows].map((r) => `${r.join(",")}\r\n`).join("");
}

/** Milliseconds and rates for people: 3 significant digits, "-" for none. */
export function fmt(v: number | null): string {
  if (v === null) return "-";
  const a = Math.abs(v);
  if (a >= 100) return String(Math.round(v));
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

const triple = (s: Summary) => `${fmt(s.p50)}/${fmt(s.p90)}/${fmt(s.p99)}`;

/** Rows of the summary table (header first); the command pads them into columns. */
export function tableRows(steps: readonly StepResult[]): string[][] {
  return [
    ["CONC", "REQ", "ERR", "TTFT ms p50/p90/p99", "ITL ms p50/p90/p99", "OUT tok/s", "REQ/s"],
    ...steps.map((s) => [
      `${s.concurrency}${s.interrupted ? "*" : ""}`,
      String(s.requests),
      String(s.errors),
      triple(s.ttftMs),
      triple(s.itlMs),
      fmt(s.outputTokensPerS),
      fmt(s.requestsPerS),
    ]),
  ];
}

/** "[######······]" for a fraction from 0 to 1. */
export function bar(fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${"#".repeat(full)}${"·".repeat(width - full)}]`;
}

/** The progress line of a running step. */
export function progressText(p: {
  step: number;
  steps: number;
  concurrency: number;
  done: number;
  errors: number;
  elapsedMs: number;
  total: number | null;
  durationMs: number | null;
}): string {
  const fraction = p.total !== null ? p.done / p.total : p.elapsedMs / (p.durationMs ?? 1);
  const count = p.total !== null ? `${p.done}/${p.total} requests` : `${p.done} requests`;
  const time =
    p.durationMs !== null
      ? `${(p.elapsedMs / 1000).toFixed(1)}/${(p.durationMs / 1000).toFixed(0)} s`
      : `${(p.elapsedMs / 1000).toFixed(1)} s`;
  const errors = p.errors > 0 ? `, ${p.errors} error${p.errors === 1 ? "" : "s"}` : "";
  return `bench step ${p.step}/${p.steps} c=${p.concurrency} ${bar(fraction)} ${count}${errors}, ${time}`;
}

/** One line per finished step (stderr), so a log shows the sweep as it goes. */
export function stepLine(s: StepResult): string {
  const errors = s.errors > 0 ? ` (${s.errors} failed: ${s.errorKinds[0]?.message ?? "?"})` : "";
  return `c=${s.concurrency}: ${s.answered}/${s.requests} answered${errors}; TTFT p50 ${fmt(s.ttftMs.p50)} ms, ITL p50 ${fmt(s.itlMs.p50)} ms, ${fmt(s.outputTokensPerS)} output tok/s, ${fmt(s.requestsPerS)} req/s`;
}

/** One row of a sweep's combined table: the point, its swept values, its job, then the step's columns. */
export interface SweepRow {
  readonly index: number;
  readonly label: string;
  readonly values: Readonly<Record<string, unknown>>;
  readonly jobId: string | null;
  readonly step: StepResult;
}

/** results.csv of `dyn bench --sweep`: one row per point × concurrency step; a column per swept key. */
export function renderSweepCsv(keys: readonly string[], rows: readonly SweepRow[]): string {
  const first = rows[0];
  const stepHeader = first ? csvColumns(first.step).map(([k]) => k) : [];
  const header = ["point", "label", ...keys, "job_id", ...stepHeader];
  const cell = (v: unknown): Cell =>
    v === undefined || v === null ? null : typeof v === "object" ? JSON.stringify(v) : (v as Cell);
  const lines = rows.map((r) => [
    csvField(r.index),
    csvField(r.label),
    ...keys.map((k) => csvField(cell(r.values[k]))),
    csvField(r.jobId),
    ...csvColumns(r.step).map(([, v]) => csvField(v)),
  ]);
  return [header, ...lines].map((l) => `${l.join(",")}\r\n`).join("");
}
