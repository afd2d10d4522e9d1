/**
 * Sweeps: one config file describes several deployments. A top-level `matrix:` maps dotted spec keys
 * to lists of values (`roles.decode.workers: [1, 2, 4]`); several keys form their cross product.
 * Pure: the CLI reads the file, plans every point, submits and records them (docs/cli.md, Sweeps).
 *
 * Order (stable, documented): the keys in the order they are written, the points as nested loops
 * over them, the first key outermost (it changes slowest), each key's values in the order written.
 * Point i of `a: [1, 2]`, `b: [x, y]` is (1,x), (1,y), (2,x), (2,y) for i = 0…3.
 */
import type { z } from "zod";
import { z as zod } from "zod";
import type { DynErrorCode, Problem } from "./errors.js";
import { DynError } from "./errors.js";
import { isPlain } from "./layers.js";
import { DeploymentSpec } from "./spec.js";
import { keyPathProblem, problemsError } from "./validate.js";

/** More points than this is refused: a sweep is a set of deployments someone will look at. */
export const MAX_SWEEP_POINTS = 256;

export interface MatrixAxis {
  /** The dotted spec key as written (`roles.decode.workers`). */
  readonly key: string;
  readonly path: readonly string[];
  readonly values: readonly unknown[];
}

export interface SweepPoint {
  /** 0-based, in the order above. */
  readonly index: number;
  /** `decode.workers=2,prefill.workers=1`: each key (without a leading `roles.`) = its value. */
  readonly label: string;
  /** Dotted spec key → the value this point gives it, in the matrix's key order. */
  readonly values: Readonly<Record<string, unknown>>;
  /** Dotted spec key → the index of this point's value in that key's list (for `file:line:col`). */
  readonly positions: Readonly<Record<string, number>>;
}

/** A problem of the matrix and where it is in the file (`["matrix", key]` or `["matrix", key, i]`). */
export interface MatrixProblem extends Problem {
  readonly path: readonly (string | number)[];
}

const Axis = zod.array(zod.unknown());
const Matrix = zod.record(zod.string(), zod.unknown());

const kindOf = (v: unknown) =>
  v === null ? "null" : Array.isArray(v) ? "a list" : isPlain(v) ? "a mapping" : `a ${typeof v}`;

/** A value as a point's label shows it: strings as they are, anything else as JSON. */
export function formatValue(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Every problem of a `matrix:` value, in the order written (empty when it is good). */
export function matrixProblems(raw: unknown, schema: z.ZodType = DeploymentSpec): MatrixProblem[] {
  const top = Matrix.safeParse(raw);
  if (!top.success || Array.isArray(raw))
    return [
      {
        key: "matrix",
        path: ["matrix"],
        message: `must be a mapping of dotted spec keys to lists of values (e.g. roles.decode.workers: [1, 2]), got ${kindOf(raw)}`,
      },
    ];
  const entries = Object.entries(top.data);
  if (entries.length === 0)
    return [
      { key: "matrix", path: ["matrix"], message: "has no keys: give at least one key and its values" },
    ];
  const out: MatrixProblem[] = [];
  const keys = entries.map(([k]) => k);
  for (const [key, value] of entries) {
    const name = `matrix.${key}`;
    const segments = key.split(".");
    if (segments.some((s) => s === "")) {
      out.push({ key: name, path: ["matrix", key], message: "is not a dotted spec key (an empty segment)" });
      continue;
    }
    const bad = keyPathProblem(schema, segments);
    if (bad) {
      out.push({
        key: name,
        path: ["matrix", key],
        message:
          bad.message.startsWith("unknown key") && bad.at < segments.length - 1
            ? `${segments.slice(0, bad.at + 1).join(".")}: ${bad.message}`
            : bad.message,
      });
      continue;
    }
    const wider = keys.find((k) => k !== key && key.startsWith(`${k}.`));
    if (wider) {
      out.push({
        key: name,
        path: ["matrix", key],
        message: `overlaps matrix.${wider} (that key's values set this one too): sweep one of them`,
      });
      continue;
    }
    const list = Axis.safeParse(value);
    if (!list.success) {
      out.push({
        key: name,
        path: ["matrix", key],
        message: `must be a list of values (e.g. [1, 2]), got ${kindOf(value)}`,
      });
      continue;
    }
    if (list.data.length === 0) {
      out.push({ key: name, path: ["matrix", key], message: "is an empty list: give at least one value" });
      continue;
    }
    const seen = new Map<string, number>();
    for (const [i, v] of list.data.entries()) {
      const id = JSON.stringify(v);
      const first = seen.get(id);
      if (first !== undefined)
        out.push({
          key: `${name}[${i}]`,
          path: ["matrix", key, i],
          message: `${formatValue(v)} repeats item ${first} (each value once)`,
        });
      else seen.set(id, i);
    }
  }
  return out;
}

/**
 * The matrix's axes, or one DynError (DYN_CONFIG_INVALID) naming every problem; `locate` gives the
 * `file:line:col` of a path in the file, so each problem reads `sweep.yaml:3:5 matrix.x: …`.
 */
export function parseMatrix(
  raw: unknown,
  options: { schema?: z.ZodType; locate?: (path: readonly (string | number)[]) => string | undefined } = {},
): MatrixAxis[] {
  const problems = matrixProblems(raw, options.schema);
  if (problems.length > 0) {
    const labelled = problems.map((p) => {
      const where = options.locate?.(p.path);
      return { key: p.key, message: p.message, ...(where ? { label: `${where} ${p.key}`, where } : {}) };
    });
    throw problemsError(
      "DYN_CONFIG_INVALID",
      labelled,
      "matrix: maps dotted spec keys to lists of values, e.g. roles.decode.workers: [1, 2] (docs/cli.md, Sweeps)",
    );
  }
  return Object.entries(raw as Record<string, unknown[]>).map(([key, values]) => ({
    key,
    path: key.split("."),
    values,
  }));
}

/** How many points the axes make (their cross product). */
export function pointCount(axes: readonly MatrixAxis[]): number {
  return axes.reduce((n, a) => n * a.values.length, 1);
}

/** The label of a point's values (see SweepPoint.label). */
export function pointLabel(values: Readonly<Record<string, unknown>>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k.replace(/^roles\./, "")}=${formatValue(v)}`)
    .join(",");
}

/** Every point of the cross product, in the documented order; more than `limit` is refused. */
export function expandMatrix(axes: readonly MatrixAxis[], limit = MAX_SWEEP_POINTS): SweepPoint[] {
  const count = pointCount(axes);
  if (count > limit)
    throw new DynError(
      "DYN_CONFIG_INVALID",
      `matrix: ${axes.map((a) => a.values.length).join(" × ")} = ${count} points, more than the limit of ${limit}`,
      { key: "matrix", hint: "sweep fewer values, or split the sweep into several files" },
    );
  const points: SweepPoint[] = [];
  for (let index = 0; index < count; index++) {
    const values: Record<string, unknown> = {};
    let rest = index;
    // The last key changes fastest: its position is the lowest "digit" of the index.
    const digits: number[] = [];
    for (let a = axes.length - 1; a >= 0; a--) {
      const n = (axes[a] as MatrixAxis).values.length;
      digits[a] = rest % n;
      rest = Math.floor(rest / n);
    }
    const positions: Record<string, number> = {};
    for (const [a, axis] of axes.entries()) {
      values[axis.key] = axis.values[digits[a] as number];
      positions[axis.key] = digits[a] as number;
    }
    points.push({ index, label: pointLabel(values), values, positions });
  }
  return points;
}

/**
 * The raw spec layer of one point: `base` with each swept key set to the point's value (the value
 * replaces what the base has there: a mapping is not merged into it). `base` is not modified.
 */
export function applyPoint(base: Record<string, unknown>, point: SweepPoint): Record<string, unknown> {
  const out = structuredClone(base);
  for (const [key, value] of Object.entries(point.values)) {
    const path = key.split(".");
    let cur = out;
    for (const seg of path.slice(0, -1)) {
      if (!isPlain(cur[seg])) cur[seg] = {};
      cur = cur[seg] as Record<string, unknown>;
    }
    cur[path[path.length - 1] as string] = structuredClone(value);
  }
  return out;
}

/**
 * The concurrency cap as SLURM dependencies: with at most `cap` points running at once, point i
 * starts after point i − cap has ended (`--dependency=afterany:<its job>`), so no client has to stay
 * alive to release the next one. Undefined: no dependency (the first `cap` points, or no cap).
 */
export function sweepDependency(index: number, cap: number | undefined): number | undefined {
  if (cap === undefined || index < cap) return undefined;
  return index - cap;
}

/** The code of several points' errors: an input error when every one is. */
export function sweepErrorCode(codes: readonly DynErrorCode[]): DynErrorCode {
  const first = codes[0] ?? "DYN_CONFIG_INVALID";
  if (codes.every((c) => c === first)) return first;
  const operation = codes.find((c) => new DynError(c, "").exitCode === 1);
  return operation ?? "DYN_SPEC_INVALID";
}
