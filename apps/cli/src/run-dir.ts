/**
 * Run directories: `<runs>/<job-name>-<timestamp>/` holding job.sbatch, plan.json, spec.json,
 * (after submission) job.json, and at run time status.jsonl and logs/. `<runs>/by-job/<jobid>` is a
 * symlink to the run directory so `dyn status <jobid>` finds it. The path is absolute and must be on
 * a filesystem the compute nodes share (the job writes its logs and status file there).
 */
import { readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { CHAIN_FILES, DynError, type PlanJson, parseChain } from "@dyn/core";
import { currentHost, runFs } from "./host.js";
import { entries, lookup } from "./registry.js";
import type { SweepRef } from "./sweep-record.js";

export const DEFAULT_RUNS_DIR = "dyn-runs";
export const FILES = {
  script: "job.sbatch",
  plan: "plan.json",
  spec: "spec.json",
  job: "job.json",
  status: "status.jsonl",
} as const;

export function resolveRunsDir(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  configRunsDir: string | undefined,
  cwd: string,
): string {
  const chosen = flag ?? (env.DYN_RUNS_DIR || undefined) ?? configRunsDir ?? DEFAULT_RUNS_DIR;
  // With --remote the runs directory is on the login node: a relative one is under its login directory.
  const host = currentHost();
  return resolve(host.remote ? (host.home() ?? cwd) : cwd, chosen);
}

function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** A fresh run directory path (not created): `<runs>/<jobName>-<UTC timestamp>[-n]`. */
export function newRunDirPath(runsDir: string, jobName: string, now: number): string {
  const base = join(runsDir, `${jobName}-${stamp(now)}`);
  let path = base;
  for (let i = 2; runFs().exists(path); i++) path = `${base}-${i}`;
  return path;
}

/** Build the directory next to its target and rename it into place: never half written. */
export function writeRunDir(target: string, files: Readonly<Record<string, string>>): void {
  runFs().writeDir(target, files);
}

/** render --out, init and the chain's stop marker write here even with --remote (host.ts). */
export { writeFileAtomic } from "./host.js";

export interface JobRecord {
  readonly jobId: string;
  readonly cluster: string | null;
  readonly submittedAt: string;
  /** A sweep's point: which sweep and point (docs/cli.md, Sweeps); absent otherwise. */
  readonly sweep?: SweepRef | undefined;
}

/** After sbatch: job.json in the run directory and the by-job/<id> link. */
export function recordSubmission(runsDir: string, runDir: string, job: JobRecord): void {
  runFs().writeFile(join(runDir, FILES.job), `${JSON.stringify(job, null, 2)}\n`);
  runFs().link(join(runsDir, "by-job", job.jobId), runDir);
}

export interface Deployment {
  readonly runDir: string;
  readonly name: string;
  readonly job: JobRecord | undefined;
  readonly plan: PlanJson | undefined;
  /** The sweep point this deployment is (job.json's), undefined outside a sweep. */
  readonly sweep?: SweepRef | undefined;
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(runFs().readText(path)) as T;
  } catch {
    return undefined;
  }
}

export function readDeployment(runDir: string): Deployment {
  const job = readJson<JobRecord>(join(runDir, FILES.job));
  return {
    runDir,
    name: basename(runDir),
    job,
    plan: readJson<PlanJson>(join(runDir, FILES.plan)),
    ...(job?.sweep ? { sweep: job.sweep } : {}),
  };
}

const isRunDir = (p: string) => runFs().exists(join(p, FILES.plan)) || runFs().exists(join(p, FILES.script));

/** All run directories under `runsDir`, newest first. */
export function listDeployments(runsDir: string): Deployment[] {
  let names: string[];
  try {
    names = runFs().list(runsDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n !== "by-job" && n !== "sweeps" && !n.startsWith("."))
    .map((n) => join(runsDir, n))
    .filter((p) => {
      try {
        return runFs().stat(p).isDirectory && isRunDir(p);
      } catch {
        return false;
      }
    })
    .sort()
    .reverse()
    .map(readDeployment);
}

/** job.json names the job, or (keep-alive) chain.jsonl names it as one of the chain's attempts. */
function namesJob(d: Deployment, jobId: string): boolean {
  if (d.job?.jobId === jobId) return true;
  if (!d.plan?.spec.lifetime?.keepAlive) return false;
  try {
    return parseChain(readFileSync(join(d.runDir, CHAIN_FILES.chain), "utf8")).some((a) => a.jobId === jobId);
  } catch {
    return false;
  }
}

/** A run directory whose job.json (or chain) names `jobId` (a registry entry is only a pointer). */
function runDirOfJob(path: string, jobId: string): Deployment | undefined {
  try {
    const target = runFs().realpath(path);
    if (!isRunDir(target)) return undefined;
    const d = readDeployment(target);
    return namesJob(d, jobId) ? d : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `dyn status 123` / `dyn status ./dyn-runs/dynamo-2025…`: a job id or a run directory path. A job
 * id is looked up in `runsDir` (by-job/ link, else a scan of the run directories' job.json), then in
 * the per-user registry (`registry`, see registry.ts), so it is found from any directory. A job id
 * with no run directory is returned without one (it may still be in the queue, but dyn did not
 * deploy it).
 */
export function findDeployment(
  arg: string,
  runsDir: string,
  cwd: string,
  registry?: string,
): { jobId: string | undefined; deployment: Deployment | undefined } {
  const host = currentHost();
  const asPath = resolve(host.remote ? (host.home() ?? cwd) : cwd, arg);
  if (!/^\d+(_\d+)?$/.test(arg) || arg.includes("/")) {
    if (runFs().exists(asPath) && isRunDir(asPath)) {
      const d = readDeployment(asPath);
      return { jobId: d.job?.jobId, deployment: d };
    }
    throw new DynError("DYN_USAGE", `${arg}: not a job id nor a run directory`, {
      key: arg,
      hint: "dyn list shows the known deployments",
    });
  }
  const found =
    runDirOfJob(join(runsDir, "by-job", arg), arg) ??
    listDeployments(runsDir).find((d) => namesJob(d, arg)) ??
    (() => {
      const entry = lookup(registry, arg);
      // an entry of another host (this machine, or another login node) is not looked at here
      return entry && (entry.remote ?? undefined) === host.remote
        ? runDirOfJob(entry.runDir, arg)
        : undefined;
    })();
  return { jobId: arg, deployment: found };
}

/** Sort key of a run directory: its submission time, else the timestamp in its name. */
function when(d: Deployment): string {
  if (d.job?.submittedAt) return d.job.submittedAt;
  const m = /(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(?:-\d+)?$/.exec(d.name);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}` : "";
}

/**
 * Every deployment dyn knows: the run directories under `runsDir` and those the registry points
 * at (whose run directory still exists and names the job), once each, newest first.
 */
export function knownDeployments(runsDir: string, registry: string | undefined): Deployment[] {
  const byPath = new Map<string, Deployment>();
  const add = (d: Deployment) => {
    let key = d.runDir;
    try {
      key = runFs().realpath(d.runDir);
    } catch {
      // keep the path as given
    }
    if (!byPath.has(key)) byPath.set(key, d);
  };
  for (const d of listDeployments(runsDir)) add(d);
  const remote = currentHost().remote;
  for (const e of entries(registry)) {
    if ((e.remote ?? undefined) !== remote) continue; // another host's: ask with its --remote
    const d = runDirOfJob(e.runDir, e.jobId);
    if (d) add(d);
  }
  return [...byPath.values()].sort((a, b) => when(b).localeCompare(when(a)) || b.name.localeCompare(a.name));
}

/** The batch script's own log: sbatch --output pattern with %j, %x, %u, %% expanded. */
export function batchLogPath(
  runDir: string,
  pattern: string,
  jobId: string,
  jobName: string,
  user: string | undefined,
): string {
  const expanded = pattern.replace(/%(%|j|x|u|A|J)/g, (_m, c: string) =>
    c === "%" ? "%" : c === "x" ? jobName : c === "u" ? (user ?? "%u") : jobId,
  );
  return expanded.startsWith("/") ? expanded : join(runDir, expanded);
}
