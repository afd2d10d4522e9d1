/** Shared by deploy, plan and render: flags → resolved spec → backend → plan (no I/O but reading). */

import { readFileSync } from "node:fs";
import {
  type Backend,
  type DeploymentSpec,
  DynError,
  type Plan,
  plan as planDeployment,
  planProfile,
  type SweepPoint,
} from "@dyn/core";
import { loadBackend } from "./backends.js";
import { useRemoteOf } from "./commands/shared.js";
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
  /** How the runs directory is named in messages: --runs-dir, DYN_RUNS_DIR, `dyn.yaml:3:10 runsDir`. */
  readonly runsDirLabel: string;
  /** The login node the deployment goes to (--remote, DYN_REMOTE, remote:), as written. */
  readonly remote: string | undefined;
}

/** Where the runs directory came from, for messages about it. */
function runsDirLabel(flags: FlagValues, io: Io, input: ResolvedInput): string {
  if (flags.runsDir !== undefined) return "--runs-dir";
  if (io.env.DYN_RUNS_DIR) return "DYN_RUNS_DIR";
  const config = input.config;
  if (config?.runsDir !== undefined) return `${config.locate(["runsDir"]) ?? config.display} runsDir`;
  const fromProfile = input.profile?.resolved.origins.get("runsDir");
  if (input.profile?.resolved.runsDir !== undefined && fromProfile) return fromProfile;
  return "the runs directory (default ./dyn-runs)";
}

/** A file's text if it is readable on this host (engine configs often exist only on the nodes). */
function readLocalFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** `remote`: deploy only — --remote, DYN_REMOTE or the config's remote: move the run directory and SLURM there. */
export async function prepare(
  flags: FlagValues,
  io: Io,
  options: { remote?: boolean; point?: SweepPoint } = {},
): Promise<Prepared> {
  const input = await resolveInput(flags, {
    cwd: io.cwd,
    env: io.env,
    configPath: flags.config as string | undefined,
    point: options.point,
  });
  const remote = options.remote ? useRemoteOf(flags, io, input.config) : undefined;
  const runsDir = resolveRunsDir(
    flags.runsDir as string | undefined,
    io.env,
    input.config?.runsDir ?? input.profile?.resolved.runsDir,
    io.cwd,
  );
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
      profile: input.profile && planProfile(input.profile.resolved, input.profile.layer),
    });
    // What the release does not use is said on stderr (the plan table and JSON carry it too).
    for (const w of plan.warnings ?? []) io.stderr(`warning: ${labelFor(input, w.key)}: ${w.message}\n`);
    return {
      input,
      backend,
      backendSource: source,
      spec,
      plan,
      runsDir,
      runsDirLabel: runsDirLabel(flags, io, input),
      remote,
    };
  } catch (err) {
    throw relabel(err, input);
  }
}
