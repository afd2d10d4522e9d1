/**
 * The JSON documents dyn prints with --json, as strict zod schemas: one module per command, each an
 * object of its own (easy to extend), and the pieces several commands share here. An unknown field
 * fails a parse. Only `dyn schema` and the tests import these modules (commands never parse their
 * own output at run time), so `dyn --help` and a dry run never build them. docs/cli.md (JSON
 * output) documents the same fields.
 *
 * Conventions: every document is `{schemaVersion: 1, format: "dyn.<command>/v1", ok, …}`; every
 * field is always present (null where it does not apply); `state` is dyn's lower-case state
 * (snake_case); SLURM's own words keep their case in fields named `slurmState`; ports are numbers.
 */
import { PHASES, type PhaseId, z } from "@dyn/core";

export const SCHEMA_VERSION = 1 as const;

/** The common envelope: `{schemaVersion: 1, format, ok}` and the command's own fields. */
export function envelope<F extends string, S extends z.ZodRawShape>(format: F, shape: S) {
  return z.strictObject({
    schemaVersion: z.literal(SCHEMA_VERSION),
    format: z.literal(format),
    ok: z.boolean(),
    ...shape,
  });
}

/**
 * A deployment's state (dyn status, list, deploy --wait, stop): live states, the ended states
 * (one per SLURM final state, observe.ts END_REASONS), and not_submitted / unknown.
 */
export const DEPLOYMENT_STATES = [
  "not_submitted",
  "queued",
  "starting",
  "ready",
  "failed",
  "stopping",
  "stopped",
  "ended",
  "cancelled",
  "timeout",
  "out_of_memory",
  "preempted",
  "node_fail",
  "boot_fail",
  "deadline",
  "unknown",
] as const;
export const DeploymentState = z.enum(DEPLOYMENT_STATES);

const int = () => z.number().int();
const nonNegative = () => z.number().int().nonnegative();
export const port = () => z.number().int().min(1).max(65535);
const str = z.string();
const nullable = <T extends z.ZodType>(t: T) => t.nullable();

/** The first failure the status file names: the component, what happened, its exit code. */
export const Failed = z.strictObject({ component: str, message: str, code: int().nullable() });

/** How a job ended: SLURM's final state (verbatim) and who/what ended it. */
export const End = z.strictObject({
  slurmState: str,
  by: str.nullable(),
  exitCode: str.nullable(),
  component: str.nullable(),
  message: str.nullable(),
  source: z.enum(["sacct", "squeue", "status-file"]),
});

/** Whose fault a failure is (core's attributeFailure) and the log it read. */
export const Attribution = z.strictObject({
  component: str,
  node: str.nullable(),
  code: int().nullable(),
  category: z.enum(["infrastructure", "configuration", "engine"]),
  rule: str,
  reason: str,
  message: str,
  logTail: z.array(str),
  log: str.nullable(),
});

/** Time to ready phase by phase (core's computeTimeline). */
export const Timeline = z.strictObject({
  origin: z.number(),
  jobStarted: z.number(),
  outcome: z.enum(["ready", "failed", "starting"]),
  phases: z.array(
    z.strictObject({
      id: z.enum(Object.keys(PHASES) as [PhaseId, ...PhaseId[]]),
      label: str,
      start: z.number(),
      end: z.number(),
      seconds: z.number(),
      overhead: z.boolean(),
      failed: z.boolean(),
      slowest: str.nullable(),
    }),
  ),
  processes: z.array(
    z.strictObject({
      step: str,
      role: str,
      node: str.nullable(),
      launched: z.number(),
      registered: z.number().nullable(),
      source: z.enum(["instance", "component"]).nullable(),
      instance: str.nullable(),
    }),
  ),
  nodes: z.array(
    z.strictObject({
      index: nonNegative(),
      name: str,
      setupStart: z.number().nullable(),
      setupEnd: z.number().nullable(),
    }),
  ),
  slowestProcess: nullable(z.strictObject({ component: str, steps: z.array(str), seconds: z.number() })),
  slowestNode: str.nullable(),
  slowestSetup: nullable(z.strictObject({ node: str, seconds: z.number() })),
  toReady: z.number().nullable(),
  overhead: z.strictObject({ seconds: z.number(), phases: z.record(str, z.number()) }),
  queueSource: z.enum(["sacct", "squeue", "dyn"]).nullable(),
});

/** The outcome of `deploy --wait`. */
export const WaitOutcome = z.enum(["ready", "failed", "timeout", "interrupted"]);

/** A heterogeneous job component's SLURM resources (core's componentResourcesJson): plan and status. */
export const componentResources = {
  partition: str.nullable(),
  account: str.nullable(),
  qos: str.nullable(),
  gpusPerNode: nonNegative(),
  gpuType: str.nullable(),
  constraint: str.nullable(),
};

export { int, nonNegative, str };
