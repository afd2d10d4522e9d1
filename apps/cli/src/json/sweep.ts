/**
 * The sweep documents (docs/cli.md, Sweeps): `dyn plan -f sweep.yaml` (dyn.sweep-plan/v1), `dyn deploy
 * -f sweep.yaml` (dyn.sweep-deploy/v1), `dyn stop --sweep` (dyn.sweep-stop/v1) and `dyn bench --sweep`
 * (dyn.sweep-bench/v1, also its results.json); and the `sweep` a deployment of `dyn list` carries.
 */
import { z } from "@dyn/core";
import { BenchConfig, BenchStep } from "./bench.js";
import { DeploymentState, envelope, int, nonNegative, str } from "./common.js";
import { PlanFile } from "./plan.js";

/** A matrix value as written in the file (a number, a string, a boolean, or any YAML value). */
const Value = z.json();
/** `matrix:` as listed: each dotted spec key with its values, in the file's order. */
export const Matrix = z.array(z.strictObject({ key: str, values: z.array(Value) }));
/** One point's values, by dotted key. */
const Values = z.record(str, Value);

/** Which sweep point a deployment is (`dyn list`'s deployments[].sweep), null outside a sweep. */
export const SweepOf = z.strictObject({ id: str, index: nonNegative(), label: str, values: Values });

/** A sweep of `dyn list`'s sweeps[]: where its record is and which jobs are its points. */
export const ListedSweep = z.strictObject({
  id: str,
  dir: str,
  config: str.nullable(),
  matrix: Matrix.nullable(),
  concurrency: int().positive().nullable(),
  points: nonNegative(),
  jobIds: z.array(str),
});

export const SweepPlanDocument = envelope("dyn.sweep-plan/v1", {
  config: str,
  matrix: Matrix,
  points: z.array(z.strictObject({ index: nonNegative(), label: str, values: Values, plan: PlanFile })),
});

export const SweepDeployDocument = envelope("dyn.sweep-deploy/v1", {
  dryRun: z.boolean(),
  remote: str.nullable(),
  /** id, dir and record are null for a dry run (nothing is written). */
  sweep: z.strictObject({
    id: str.nullable(),
    dir: str.nullable(),
    record: str.nullable(),
    config: str,
    matrix: Matrix,
    concurrency: int().positive().nullable(),
  }),
  points: z.array(
    z.strictObject({
      index: nonNegative(),
      label: str,
      values: Values,
      /** The point this one starts after (--sweep-concurrency), null when none. */
      after: nonNegative().nullable(),
      jobId: str.nullable(),
      cluster: str.nullable(),
      runDir: str.nullable(),
      files: z.strictObject({ script: str, plan: str, spec: str }).nullable(),
      plan: PlanFile,
    }),
  ),
  /** Commands to run next (empty for a dry run). */
  next: z.array(str),
});

export const SweepStopDocument = envelope("dyn.sweep-stop/v1", {
  sweep: str,
  points: z.array(
    z.strictObject({ index: nonNegative(), label: str, jobId: str.nullable(), cancelled: z.boolean() }),
  ),
  cancelled: z.array(str),
  seconds: nonNegative(),
});

export const SweepBenchDocument = envelope("dyn.sweep-bench/v1", {
  sweep: z.strictObject({ id: str, dir: str, matrix: Matrix }),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  config: BenchConfig,
  points: z.array(
    z.strictObject({
      index: nonNegative(),
      label: str,
      values: Values,
      jobId: str.nullable(),
      runDir: str,
      state: z.union([DeploymentState, z.literal("unknown")]),
      /** benched: every step answered; failed: a step got no answer, or the bench could not run; skipped: not ready. */
      status: z.enum(["benched", "failed", "skipped"]),
      url: str.nullable(),
      model: str.nullable(),
      reason: str.nullable(),
      steps: z.array(BenchStep),
    }),
  ),
  interrupted: z.boolean(),
  files: z.strictObject({ dir: str, json: str, csv: str }),
});
