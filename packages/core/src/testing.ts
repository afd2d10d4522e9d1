/**
 * `@dyn/core/testing`, for backend authors' tests (docs/writing-a-backend.md § The conformance kit):
 * the conformance kit, which plans and renders the standard shapes for every release a backend
 * declares and checks them against the contract and the captured Dynamo flag tables,
 *   import { conformance } from "@dyn/core/testing";
 *   for (const c of conformance(backend)) it(c.name, c.run);
 * and helpers to plan and render a backend with a small spec, no cluster.
 */

import type { Backend } from "./backend.js";
import { DynError } from "./errors.js";
import { type PlanJson, planToJson } from "./explain.js";
import { isInfraStep, type Plan } from "./plan.js";
import { plan } from "./planner.js";
import { renderScript } from "./render/script.js";
import { DeploymentSpec, type DeploymentSpecInput } from "./spec.js";
import { parseOrThrow } from "./validate.js";

export type TestSpec = Omit<DeploymentSpecInput, "backend"> & { options?: Record<string, unknown> };

export function planForTest(backend: Backend, input: TestSpec = {}): Plan {
  const { options, ...rest } = input;
  const spec = parseOrThrow(
    DeploymentSpec,
    { ...rest, backend: { name: backend.name, options: options ?? {} } },
    { code: "DYN_SPEC_INVALID" },
  );
  return plan(spec, backend);
}

export function renderForTest(backend: Backend, input: TestSpec = {}, runDir = "/shared/runs/test"): string {
  return renderScript(planForTest(backend, input), { runDir, generator: "@dyn/core/testing" });
}

export interface ProcessForTest {
  readonly id: string;
  readonly registers: string | null;
  /** With `{ srun: true }`: the step's nodes and tasks per node (MPI steps). */
  readonly srun?: string;
  readonly command: string;
  /** The env the backend adds: the infra endpoints every process gets are left out. */
  readonly env: Record<string, string>;
}

/** A plan's service processes (no etcd/NATS) in the form backend tests snapshot. */
export function processesForTest(
  backend: Backend,
  input: TestSpec = {},
  options: { srun?: boolean } = {},
): ProcessForTest[] {
  const p = planForTest(backend, input);
  const json = planToJson(p);
  return p.steps.flatMap((step, i) => {
    if (isInfraStep(step)) return [];
    const proc = json.processes[i] as PlanJson["processes"][number];
    const env = Object.fromEntries(
      Object.entries(proc.env).filter(([k]) => k !== "ETCD_ENDPOINTS" && k !== "NATS_SERVER"),
    );
    const srun = options.srun
      ? { srun: `nodes=${step.nodes.join(",")} tasksPerNode=${step.tasksPerNode}` }
      : {};
    return [{ id: proc.id, registers: proc.registers, ...srun, command: proc.command.join(" "), env }];
  });
}

/** The error `fn` throws; fails the test when it throws nothing. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error, but nothing was thrown");
}

/** The DynError `fn` throws; any other error is rethrown, and nothing thrown fails. */
export function thrownDynError(fn: () => unknown): DynError {
  const e = thrownBy(fn);
  if (!DynError.is(e)) throw e;
  return e;
}

export { argvProblems, type FlagTables, flagTables, parserOf, type TableFlag } from "./conformance/flags.js";
export {
  type ConformanceCase,
  type ConformanceOptions,
  conformance,
  conformanceProblems,
  PROBE,
  PROBE_MARKER,
  SHAPES,
  type ShapeName,
} from "./conformance/index.js";
export { type ShellScan, scanShell } from "./conformance/shell.js";
