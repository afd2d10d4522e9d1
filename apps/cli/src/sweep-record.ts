/**
 * The sweep record (docs/cli.md, Sweeps), read by list, stop and bench without loading the planner:
 *
 *   <runs>/sweeps/<id>/sweep.json    dyn.sweep/v1: the matrix and each point → run directory, job id
 *   <run dir>/job.json `sweep`       which sweep and point a run directory is (read with job.json anyway)
 *   <runs>/sweeps/<id>/bench/<UTC>/  dyn bench --sweep: results.json and results.csv of every point
 */
import { join } from "node:path";
import { closest, DynError } from "@dyn/core";
import { runFs } from "./host.js";

export const SWEEP_FILES = { record: "sweep.json" } as const;

export interface SweepRecordPoint {
  readonly index: number;
  readonly label: string;
  readonly values: Readonly<Record<string, unknown>>;
  readonly runDir: string;
  readonly jobId: string | null;
  /** The index of the point this one starts after (`--dependency=afterany`), null when none. */
  readonly after: number | null;
}

/** sweep.json (dyn.sweep/v1). */
export interface SweepRecord {
  readonly format: "dyn.sweep/v1";
  readonly id: string;
  readonly config: string;
  readonly createdAt: string;
  readonly matrix: ReadonlyArray<{ readonly key: string; readonly values: readonly unknown[] }>;
  /** --sweep-concurrency, null without a cap. */
  readonly concurrency: number | null;
  readonly remote: string | null;
  readonly points: readonly SweepRecordPoint[];
}

/** job.json's `sweep` in a point's run directory: which sweep (and where its record is) and point. */
export interface SweepRef {
  readonly id: string;
  readonly index: number;
  readonly label: string;
  readonly values: Readonly<Record<string, unknown>>;
  readonly dir: string;
}

export const sweepsDir = (runsDir: string) => join(runsDir, "sweeps");

function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** A new sweep id, `sweep-<UTC timestamp>[-n]`, and its directory (not created). */
export function newSweep(runsDir: string, now: number): { id: string; dir: string } {
  const base = `sweep-${stamp(now)}`;
  let id = base;
  for (let i = 2; runFs().exists(join(sweepsDir(runsDir), id)); i++) id = `${base}-${i}`;
  return { id, dir: join(sweepsDir(runsDir), id) };
}

export function writeSweepRecord(dir: string, record: SweepRecord): void {
  runFs().writeFile(join(dir, SWEEP_FILES.record), `${JSON.stringify(record, null, 2)}\n`);
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(runFs().readText(path)) as T;
  } catch {
    return undefined;
  }
}

/** The sweep.json in a sweep's directory, undefined when it is missing or not one. */
export function readSweepRecord(dir: string): SweepRecord | undefined {
  const r = readJson<SweepRecord>(join(dir, SWEEP_FILES.record));
  return r?.format === "dyn.sweep/v1" ? r : undefined;
}

/** The sweeps under the runs directory, newest first. */
export function listSweeps(runsDir: string): SweepRecord[] {
  let names: string[];
  try {
    names = runFs().list(sweepsDir(runsDir));
  } catch {
    return [];
  }
  return names
    .filter((n) => !n.startsWith("."))
    .sort()
    .reverse()
    .flatMap((n) => {
      const r = readJson<SweepRecord>(join(sweepsDir(runsDir), n, SWEEP_FILES.record));
      return r?.format === "dyn.sweep/v1" ? [r] : [];
    });
}

/** `--sweep <id>`: the sweep's record and directory, or a usage error naming the known ones. */
export function readSweep(
  runsDir: string,
  id: string,
  flag = "--sweep",
): { record: SweepRecord; dir: string } {
  const dir = join(sweepsDir(runsDir), id);
  const record = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)
    ? readJson<SweepRecord>(join(dir, SWEEP_FILES.record))
    : undefined;
  if (record?.format === "dyn.sweep/v1") return { record, dir };
  const known = listSweeps(runsDir).map((r) => r.id);
  const guess = closest(id, known);
  throw new DynError(
    "DYN_USAGE",
    `${flag} ${id}: no such sweep under ${sweepsDir(runsDir)}${guess ? ` (did you mean ${guess}?)` : ""}`,
    {
      key: flag,
      hint:
        known.length > 0
          ? `known sweeps: ${known.slice(0, 5).join(", ")}`
          : "dyn deploy -f <sweep.yaml> makes one",
    },
  );
}
