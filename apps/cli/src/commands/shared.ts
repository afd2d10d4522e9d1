/** Helpers for the commands that work on existing deployments. */
import { loadConfig } from "../config-file.js";
import { currentHost, useHost } from "../host.js";
import type { Io } from "../io.js";
import type { Target } from "../observe.js";
import { lookup, registryDir } from "../registry.js";
import { chooseRemote, createSshHost, parseRemote } from "../remote.js";
import { findDeployment, resolveRunsDir } from "../run-dir.js";

export async function runsDirOf(flags: Record<string, unknown>, io: Io): Promise<string> {
  const config = await loadConfig(io.cwd, flags.config as string | undefined);
  useRemoteOf(flags, io, config);
  return resolveRunsDir(flags.runsDir as string | undefined, io.env, config?.runsDir, io.cwd);
}

/**
 * A job id or run directory: found under the runs directory, else through the per-user registry.
 * A job the registry says was submitted with --remote is looked for on that login node (and the
 * command goes on there: its SLURM calls too), so `dyn status <job>` works without --remote.
 */
export function targetOf(arg: string, runsDir: string, io: Io): Target {
  const registry = registryDir(io.env);
  const found = findDeployment(arg, runsDir, io.cwd, registry);
  if (found.deployment || currentHost().remote) return found;
  const entry = lookup(registry, arg);
  if (!entry?.remote) return found;
  useHost(createSshHost(parseRemote(entry.remote, `the registry entry of job ${arg} (remote)`), io.env));
  return findDeployment(arg, runsDir, io.cwd, registry);
}

/**
 * --remote, DYN_REMOTE or the config's remote: → commands run on that login node from here on.
 * Returns the remote as written, or undefined.
 */
export function useRemoteOf(
  flags: Record<string, unknown>,
  io: Io,
  config:
    | { remote?: string | undefined; locate(path: string[]): string | undefined; display: string }
    | undefined,
): string | undefined {
  const fromConfig =
    config?.remote !== undefined
      ? { value: config.remote, label: `${config.locate(["remote"]) ?? config.display} remote` }
      : undefined;
  const target = chooseRemote(flags.remote, io.env, fromConfig);
  if (target) useHost(createSshHost(target, io.env));
  return target?.spec;
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
