/**
 * Sweeps in the CLI: the config file's `matrix:` (checked and expanded by @dyn/core sweep.ts), every
 * point planned before anything is written, and the sweep record under the runs directory:
 *
 *   <runs>/sweeps/<id>/sweep.json    dyn.sweep/v1: the matrix and each point → run directory, job id
 *   <run dir>/job.json `sweep`       which sweep and point a run directory is
 *   <runs>/sweeps/<id>/bench/<UTC>/  dyn bench --sweep: results.json and results.csv of every point
 */
import {
  DynError,
  expandMatrix,
  type MatrixAxis,
  parseMatrix,
  type SweepPoint,
  sweepErrorCode,
} from "@dyn/core";
import { type ConfigFile, loadConfig } from "./config-file.js";
import type { Io } from "./io.js";
import { type Prepared, prepare } from "./prepare.js";

export * from "./sweep-record.js";

export interface Sweep {
  readonly config: ConfigFile;
  readonly axes: readonly MatrixAxis[];
  readonly points: readonly SweepPoint[];
}

/** The config file's sweep, or undefined when it has no `matrix:` (or there is no config file). */
export async function loadSweep(flags: Record<string, unknown>, io: Io): Promise<Sweep | undefined> {
  const config = await loadConfig(io.cwd, flags.config as string | undefined);
  if (config === undefined || !("matrix" in config)) return undefined;
  const axes = parseMatrix(config.matrix, { locate: (p) => config.locate(p, p.length === 2) });
  return { config, axes, points: expandMatrix(axes) };
}

/** `--point <n>`: one point of the sweep (0-based, as dyn plan lists them). */
export function selectPoint(sweep: Sweep, value: unknown): SweepPoint {
  const s = String(value);
  const point = /^\d+$/.test(s) ? sweep.points[Number(s)] : undefined;
  if (!point)
    throw new DynError(
      "DYN_USAGE",
      `--point: expected a point index 0…${sweep.points.length - 1} of the sweep in ${sweep.config.display}, got ${JSON.stringify(s)}`,
      { key: "--point", hint: `dyn plan -f ${sweep.config.display} lists the points` },
    );
  return point;
}

/** The sweep flags without a sweep (`isSweep`: the config has a matrix:, and --point chose one point). */
export function notSweepFlags(flags: Record<string, unknown>, isSweep = false): void {
  for (const [attr, flag] of [
    ["sweepConcurrency", "--sweep-concurrency"],
    ["point", "--point"],
  ] as const) {
    if (flags[attr] === undefined || (attr === "point" && isSweep)) continue;
    throw new DynError(
      "DYN_USAGE",
      `${flag}: only applies to a config file with matrix: (a sweep)${attr === "sweepConcurrency" && isSweep ? ", not to one --point" : ""}`,
      { key: flag, hint: "docs/cli.md, Sweeps" },
    );
  }
}

export interface PlannedPoint {
  readonly point: SweepPoint;
  readonly prepared: Prepared;
}

/** `point 2 (decode.workers=4)`. */
export const pointName = (p: { readonly index: number; readonly label: string }) =>
  `point ${p.index} (${p.label})`;

/**
 * Every point planned (and `check`ed: secrets, partitions) before anything is written. When any point
 * fails, one DynError names each failing point with its error on one line; nothing was written.
 */
export async function planSweep(
  flags: Record<string, unknown>,
  io: Io,
  sweep: Sweep,
  options: { remote?: boolean; check?: (p: Prepared) => Promise<void> } = {},
): Promise<PlannedPoint[]> {
  const planned: PlannedPoint[] = [];
  const failed: Array<{ point: SweepPoint; error: DynError }> = [];
  // A warning every point has (the release does not use a key, say) is said once.
  const said = new Set<string>();
  const once: Io = {
    ...io,
    stderr: (text) => {
      if (said.has(text)) return;
      said.add(text);
      io.stderr(text);
    },
  };
  for (const point of sweep.points) {
    try {
      // The remote is chosen once, with the first point (every point goes to the same login node).
      const prepared = await prepare(flags, once, {
        remote: options.remote === true && point.index === 0,
        point,
      });
      await options.check?.(prepared);
      planned.push({ point, prepared });
    } catch (err) {
      if (!DynError.is(err)) throw err;
      failed.push({ point, error: err });
    }
  }
  if (failed.length === 0) return planned;
  // The same error at every point (a flag that clashes with the matrix, no backend, …): said once.
  const first = failed[0]?.error as DynError;
  if (failed.length === sweep.points.length && failed.every((f) => f.error.message === first.message))
    throw first;
  const problems = failed.map(({ point, error }) => ({
    key: `point ${point.index}`,
    label: pointName(point),
    message: error.message,
  }));
  const only = failed[0] as { point: SweepPoint; error: DynError };
  const message =
    failed.length === 1
      ? `${pointName(only.point)}: ${only.error.message}`
      : `${failed.length} of ${sweep.points.length} sweep points fail: ${problems.map((p) => `${p.label}: ${p.message}`).join("; ")}`;
  throw new DynError(sweepErrorCode(failed.map((f) => f.error.code)), message, {
    key: "matrix",
    hint: `nothing was written or submitted; dyn plan -f ${sweep.config.display} --point <n> shows one point`,
    problems: failed.length > 1 ? problems : undefined,
    cause: only.error,
  });
}
