/** Helpers for the commands that work on existing deployments. */
import { loadConfig } from "../config-file.js";
import type { Io } from "../io.js";
import type { Target } from "../observe.js";
import { loadProfile } from "../profiles-file.js";
import { registryDir } from "../registry.js";
import { findDeployment, resolveRunsDir } from "../run-dir.js";

export async function runsDirOf(flags: Record<string, unknown>, io: Io): Promise<string> {
  const config = await loadConfig(io.cwd, flags.config as string | undefined);
  // A runs directory given nowhere else may be the selected profile's (DYN_PROFILE, the config, a default).
  const profile =
    flags.runsDir === undefined && !io.env.DYN_RUNS_DIR && config?.runsDir === undefined
      ? await loadProfile(undefined, io.env, config)
      : undefined;
  return resolveRunsDir(
    flags.runsDir as string | undefined,
    io.env,
    config?.runsDir ?? profile?.runsDir,
    io.cwd,
  );
}

/** A job id or run directory: found under the runs directory, else through the per-user registry. */
export function targetOf(arg: string, runsDir: string, io: Io): Target {
  return findDeployment(arg, runsDir, io.cwd, registryDir(io.env));
}

export function pad(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
