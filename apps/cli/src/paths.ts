/**
 * Directories dyn writes or names in a script, checked before they are needed: the runs directory
 * (refused at once when it cannot exist: under a file, on /proc or /sys, not writable) and the
 * batch log's directory (sbatch does not create it; dyn does at submission).
 *
 * Node's recursive mkdir loops forever under /proc (each component reports ENOENT), so directories
 * are created one component at a time, and each failure is reported at the component that failed.
 */
import { accessSync, constants, mkdirSync, statfsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { DynError } from "@dyn/core";
import { currentHost, runFs } from "./host.js";

/** statfs f_type of filesystems no run directory can live on (linux/magic.h). */
const PSEUDO_FILESYSTEMS: Readonly<Record<number, string>> = {
  40864: "proc",
  1650812274: "sysfs",
  2613483: "cgroup",
  1667723888: "cgroup2",
  1684170528: "debugfs",
  1935894131: "securityfs",
  7377: "devpts",
};

/** The deepest existing ancestor of `path` (or the path itself), and the components below it. */
function existingAncestor(path: string): { dir: string; missing: string[] } {
  const missing: string[] = [];
  let dir = resolve(path);
  for (;;) {
    try {
      statSync(dir);
      return { dir, missing };
    } catch {
      const up = dirname(dir);
      if (up === dir) return { dir, missing };
      missing.unshift(dir.slice(up.length).replace(/^\//, ""));
      dir = up;
    }
  }
}

const usage = (label: string, message: string, hint: string) =>
  new DynError("DYN_USAGE", `${label}: ${message}`, { key: label, hint });

const SHARED_HINT = "use a directory on a filesystem the compute nodes share (home or a parallel filesystem)";

/**
 * Whether `path` exists as a writable directory or could be created: its nearest existing ancestor
 * is a directory, not on a pseudo filesystem, and writable. Writes nothing.
 */
export function checkDirectory(path: string, label: string): void {
  const { dir, missing } = existingAncestor(path);
  const stat = statSync(dir);
  if (!stat.isDirectory()) throw usage(label, `${path} cannot be a directory: ${dir} is a file`, SHARED_HINT);
  const type = PSEUDO_FILESYSTEMS[Number(statfsSync(dir).type)];
  if (type)
    throw usage(
      label,
      `${path} is on ${dir}, a ${type} filesystem, where no directory can be made`,
      SHARED_HINT,
    );
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw usage(
      label,
      missing.length > 0 ? `${path} cannot be created: ${dir} is not writable` : `${path} is not writable`,
      SHARED_HINT,
    );
  }
}

/**
 * `mkdir -p`, one component at a time (see above); a failure names the component. On a --remote
 * login node: one `mkdir -p` and a writability test there (one round trip).
 */
export function makeDirectory(path: string, label: string): void {
  if (currentHost().remote) {
    try {
      runFs().makeDirs(path);
      return;
    } catch (err) {
      throw usage(label, `cannot create ${path}: ${(err as Error).message}`, SHARED_HINT);
    }
  }
  checkDirectory(path, label);
  const { dir, missing } = existingAncestor(path);
  let current = dir;
  for (const part of missing) {
    current = join(current, part);
    try {
      mkdirSync(current);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST" && statSync(current).isDirectory()) continue;
      throw usage(label, `cannot create ${current}: ${(err as Error).message}`, SHARED_HINT);
    }
  }
}

/** The directory sbatch opens the batch log in (`--output` resolved against the run directory). */
export function outputDirectory(output: string, runDir: string): string {
  return dirname(output.startsWith("/") ? output : join(runDir, output));
}
