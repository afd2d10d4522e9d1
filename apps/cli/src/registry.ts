/**
 * The per-user registry of deployments: one small JSON file per submitted job under
 * `$XDG_STATE_HOME/dyn/deployments/` (default `~/.local/state/dyn`, the XDG Base Directory
 * specification's place for state that outlives a session). It maps a job id to its run directory,
 * so `dyn status|logs|stop|list` find a deployment from any working directory. One file per job, each
 * written atomically: concurrent deploys never lose each other's entries. The run directory stays the
 * truth (its job.json); an entry only says where to look.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { DynError } from "@dyn/core";

export interface RegistryEntry {
  readonly jobId: string;
  readonly cluster: string | null;
  readonly runDir: string;
  readonly name: string;
  readonly backend: string | null;
  readonly submittedAt: string;
  /** The login node it was submitted on with --remote (`alice@login1:2222`); null: this machine. */
  readonly remote: string | null;
}

const ENTRIES = "deployments";

/**
 * `$XDG_STATE_HOME/dyn`, else `$HOME/.local/state/dyn`; undefined when neither is set (then there is
 * no registry). A relative XDG_STATE_HOME is ignored, as the specification asks.
 */
export function registryDir(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const state = env.XDG_STATE_HOME;
  if (state && isAbsolute(state)) return join(state, "dyn");
  if (env.HOME && isAbsolute(env.HOME)) return join(env.HOME, ".local", "state", "dyn");
  return undefined;
}

function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // its directory is not one: nothing was written
  }
}

const fileOf = (dir: string, jobId: string) => join(dir, ENTRIES, `${jobId}.json`);

/** Record a submitted job (atomically; throws DYN_IO_FAILED when the directory cannot be written). */
export function register(dir: string, entry: RegistryEntry): void {
  const file = fileOf(dir, entry.jobId);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, `${JSON.stringify(entry, null, 2)}\n`);
    renameSync(tmp, file);
  } catch (err) {
    removeQuietly(tmp);
    throw new DynError(
      "DYN_IO_FAILED",
      `cannot write the registry entry ${file}: ${(err as Error).message}`,
      {
        hint: "set XDG_STATE_HOME to a writable directory",
        cause: err,
      },
    );
  }
}

function parse(text: string): RegistryEntry | undefined {
  try {
    const e = JSON.parse(text) as Partial<RegistryEntry>;
    if (typeof e.jobId !== "string" || typeof e.runDir !== "string") return undefined;
    return {
      jobId: e.jobId,
      cluster: e.cluster ?? null,
      runDir: e.runDir,
      name: e.name ?? "",
      backend: e.backend ?? null,
      submittedAt: e.submittedAt ?? "",
      remote: typeof e.remote === "string" ? e.remote : null,
    };
  } catch {
    return undefined;
  }
}

export function lookup(dir: string | undefined, jobId: string): RegistryEntry | undefined {
  if (dir === undefined || !/^\d+(_\d+)?$/.test(jobId)) return undefined;
  try {
    return parse(readFileSync(fileOf(dir, jobId), "utf8"));
  } catch {
    return undefined;
  }
}

/** Every entry, in no particular order; unreadable files are skipped. */
export function entries(dir: string | undefined): RegistryEntry[] {
  if (dir === undefined) return [];
  let names: string[];
  try {
    names = readdirSync(join(dir, ENTRIES));
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+(_\d+)?\.json$/.test(n))
    .map((n) => {
      try {
        return parse(readFileSync(join(dir, ENTRIES, n), "utf8"));
      } catch {
        return undefined;
      }
    })
    .filter((e): e is RegistryEntry => e !== undefined);
}

/**
 * After sbatch: record the job where `env` says the registry is. The job is queued whatever happens
 * here, so a registry that cannot be written is a warning (the runs directory still finds it).
 */
export function remember(
  env: Readonly<Record<string, string | undefined>>,
  entry: RegistryEntry,
  warn: (text: string) => void,
): void {
  const dir = registryDir(env);
  if (dir === undefined) return;
  try {
    register(dir, entry);
  } catch (err) {
    warn(
      `warning: ${(err as Error).message}; dyn status ${entry.jobId} works from this directory only (or with --runs-dir)\n`,
    );
  }
}
