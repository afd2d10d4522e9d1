/** Shared by deploy, plan and render: flags → resolved spec → backend → plan (no I/O but reading). */

import { readFileSync } from "node:fs";
import { type Backend, type DeploymentSpec, DynError, type Plan, plan as planDeployment } from "@dyn/core";
import { loadBackend } from "./backends.js";
import type { Io } from "./io.js";
import { resolveRunsDir } from "./run-dir.js";
import {
  checkSecretEnvOverlap,
  type FlagValues,
  fillWorkerCounts,
  labelFor,
  parseSpec,
  type ResolvedInput,
  relabel,
  resolveInput,
} from "./spec-from-options.js";

export interface Prepared {
  readonly input: ResolvedInput;
  readonly backend: Backend;
  readonly backendSource: string;
  readonly spec: DeploymentSpec;
  readonly plan: Plan;
  readonly runsDir: string;
}

/** A file's text if it is readable on this host (engine configs often exist only on the nodes). */
function readLocalFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

export async function prepare(flags: FlagValues, io: Io): Promise<Prepared> {
  const input = await resolveInput(flags, {
    cwd: io.cwd,
    env: io.env,
    configPath: flags.config as string | undefined,
  });
  const runsDir = resolveRunsDir(flags.runsDir as string | undefined, io.env, input.config?.runsDir, io.cwd);
  if (!input.backendName) {
    throw new DynError("DYN_USAGE", "--backend: required (or set backend: in dyn.yaml)", {
      key: "--backend",
      hint: "dyn backends lists them, e.g. --backend vllm",
    });
  }
  const key = labelFor(input, "backend.name");
  const { backend, source } = await loadBackend(input.backendName, {
    cwd: io.cwd,
    configBackends: input.config?.backends,
    key,
  });
  try {
    fillWorkerCounts(input.raw, backend);
    const spec = parseSpec(input);
    checkSecretEnvOverlap(spec, input);
    const plan = planDeployment(spec, backend, {
      versionOrigin: labelFor(input, "dynamo.version"),
      readFile: readLocalFile,
    });
    return { input, backend, backendSource: source, spec, plan, runsDir };
  } catch (err) {
    throw relabel(err, input);
  }
}
