/**
 * Helpers for backend authors' tests: plan and render a backend with a small spec, no cluster.
 *   import { renderForTest } from "@dyn/core/testing";
 */
import type { Backend } from "./backend.js";
import type { Plan } from "./plan.js";
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
