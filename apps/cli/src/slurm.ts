/**
 * The only place that runs SLURM commands. Commands talk to the `Slurm` interface; tests pass a fake.
 * Every call is one process: `queue()` asks squeue about any number of jobs at once, so polling N
 * deployments costs one controller RPC per poll; `accounting()` asks sacct about any number at once.
 */
import { DynError } from "@dyn/core";
import { type Host, localHost, type RunResult } from "./host.js";

export interface QueueEntry {
  readonly jobId: string;
  /** PENDING, RUNNING, COMPLETING, … */
  readonly state: string;
  /** Pending reason or "None". */
  readonly reason: string;
  readonly nodes: string;
  readonly name: string;
  /** Elapsed time as squeue prints it. */
  readonly time: string;
  /**
   * With `queue(ids, { ended: true })`: the batch script's exit code as "code:signal" (sacct's form),
   * from squeue's raw wait status. Meaningful once the job has ended.
   */
  readonly exitCode?: string;
}

export interface AccountingEntry {
  readonly jobId: string;
  /** COMPLETED, FAILED, CANCELLED, TIMEOUT, … (first word of sacct's State). */
  readonly state: string;
  readonly exitCode: string;
  /**
   * Who cancelled the job: sacct's State reads "CANCELLED by <uid>"; `accounting()` gives the user
   * name (the uid when the name service does not know it), `parseAccounting` the uid.
   */
  readonly by?: string;
}

export interface ProbeResult {
  /** The command exists and ran. */
  readonly found: boolean;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** It was killed after the probe's time limit. */
  readonly timedOut?: boolean;
}

export interface Slurm {
  /**
   * `sbatch --parsable [--dependency=afterany:<job>] <script>` run in `cwd`; returns the job id (a
   * `;cluster` suffix is dropped). `afterAny`: the job may start once that job has ended (a sweep's cap).
   */
  submit(
    scriptPath: string,
    options: { cwd: string; afterAny?: string | undefined },
  ): Promise<{ jobId: string; cluster?: string }>;
  /**
   * One `squeue` call for all the jobs; jobs no longer in the queue are absent from the map. With
   * `ended`, also the jobs that ended but are still in slurmctld's memory (MinJobAge, what `scontrol
   * show job` shows), in their final state (TIMEOUT, CANCELLED, …) with their exit code.
   */
  queue(jobIds: readonly string[], options?: { readonly ended?: boolean }): Promise<Map<string, QueueEntry>>;
  /**
   * One `sacct` call (and one name lookup for the users who cancelled); jobs unknown to accounting
   * are absent, and so is everything on a cluster without accounting.
   */
  accounting(jobIds: readonly string[]): Promise<Map<string, AccountingEntry>>;
  /** `scancel <job>`. */
  cancel(jobId: string): Promise<void>;
  /** Run any command for `dyn doctor`; never throws; killed after `timeoutMs` (default 20 s). */
  probe(command: string, args: readonly string[], options?: { timeoutMs?: number }): Promise<ProbeResult>;
}

export const QUEUE_FORMAT = "%i|%T|%r|%N|%j|%M";
/**
 * The same fields plus the exit code, for `squeue --states=all`: only --Format has exit_code (a raw
 * wait status). A ":|" suffix with no width prints each field whole, "|" after it.
 */
export const ENDED_QUEUE_FORMAT = "JobID:|,State:|,Reason:|,NodeList:|,Name:|,TimeUsed:|,exit_code:|";

export function parseSbatchParsable(stdout: string): { jobId: string; cluster?: string } {
  const line = stdout.trim().split("\n").pop()?.trim() ?? "";
  const m = /^(\d+(?:_\d+)?)(?:;(\S+))?$/.exec(line);
  if (!m) {
    throw new DynError("DYN_SLURM_FAILED", `sbatch printed no job id: ${JSON.stringify(stdout.trim())}`, {
      hint: "check that sbatch is SLURM's and supports --parsable",
    });
  }
  return m[2] ? { jobId: m[1] as string, cluster: m[2] } : { jobId: m[1] as string };
}

/**
 * A heterogeneous job's components are listed as `<leader>+<offset>` by squeue and sacct
 * (slurm.schedmd.com/heterogeneous_jobs.html: "using the format <het_job_id>+<het_job_offset>";
 * `squeue -j 3` on the testbed's 22.05 prints `3+0` and `3+1`): the job is its leader's id, its
 * state component 0's (the batch script's), its nodes every component's.
 */
export function hetComponent(jobId: string): { jobId: string; offset: number } | undefined {
  const m = /^(\d+)\+(\d+)$/.exec(jobId);
  return m ? { jobId: m[1] as string, offset: Number(m[2]) } : undefined;
}

/** Entries keyed by job id, a heterogeneous job's components folded into its leader's entry. */
function foldComponents<E extends { readonly jobId: string; readonly nodes: string }>(
  out: Map<string, E>,
  entry: E,
): void {
  const het = hetComponent(entry.jobId);
  if (!het) {
    out.set(entry.jobId, entry);
    return;
  }
  const prev = out.get(het.jobId);
  const nodes = [prev?.nodes, entry.nodes].filter((n) => n && n !== "(null)").join(",");
  // Component 0's fields win whatever order the lines come in; the nodes are every component's.
  if (het.offset === 0 || !prev) out.set(het.jobId, { ...(prev ?? {}), ...entry, jobId: het.jobId, nodes });
  else out.set(het.jobId, { ...prev, nodes });
}

export function parseQueue(stdout: string): Map<string, QueueEntry> {
  const out = new Map<string, QueueEntry>();
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const [jobId = "", state = "", reason = "", nodes = "", name = "", time = ""] = line.trim().split("|");
    foldComponents(out, { jobId, state, reason, nodes, name, time });
  }
  return out;
}

/** A wait status (squeue's exit_code) as sacct prints an exit code: "<exit code>:<signal>". */
export function exitCodeOfStatus(raw: string): string | undefined {
  if (!/^\d+$/.test(raw)) return undefined;
  const status = Number(raw);
  return `${(status >> 8) & 0xff}:${status & 0x7f}`;
}

/**
 * `squeue --states=all -O ENDED_QUEUE_FORMAT`: like parseQueue, with the exit code. Each line is
 * "JobID|State|Reason|NodeList|Name|TimeUsed|exit_code|"; a job name may itself contain "|".
 */
export function parseEndedQueue(stdout: string): Map<string, QueueEntry> {
  const out = new Map<string, QueueEntry>();
  for (const line of stdout.split("\n")) {
    const f = line.trim().split("|");
    if (f.length < 8) continue;
    const [jobId = "", state = "", reason = "", nodes = ""] = f;
    const exitCode = exitCodeOfStatus(f.at(-2) ?? "");
    foldComponents(out, {
      jobId,
      state,
      reason,
      nodes,
      name: f.slice(4, -3).join("|"),
      time: f.at(-3) ?? "",
      ...(exitCode ? { exitCode } : {}),
    });
  }
  return out;
}

export function parseAccounting(stdout: string): Map<string, AccountingEntry> {
  const out = new Map<string, AccountingEntry>();
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const [jobId = "", state = "", exitCode = ""] = line.trim().split("|");
    if (jobId.includes(".")) continue; // steps
    // "CANCELLED by 1000" (sacct's State when scancel ended the job): the uid of who cancelled it.
    const by = /^\S+ by (\d+)$/.exec(state)?.[1];
    // A heterogeneous job: its leader's (component 0's) line stands for the job.
    const het = hetComponent(jobId);
    if (het && het.offset > 0) continue;
    const id = het ? het.jobId : jobId;
    out.set(id, { jobId: id, state: state.split(" ")[0] ?? state, exitCode, ...(by ? { by } : {}) });
  }
  return out;
}

/** `getent passwd <uid>…` → uid → user name. */
export function parsePasswd(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const [name, , uid] = line.split(":");
    if (name && uid && /^\d+$/.test(uid)) out.set(uid, name);
  }
  return out;
}

/** SLURM's own message, one line: the last non-empty stderr line, `sbatch: error:` prefixes dropped. */
export function slurmMessage(command: string, result: { stderr: string; code: number | null }): string {
  const lines = result.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const errorLines = lines.filter((l) => /error/i.test(l));
  const line = (errorLines.length > 0 ? errorLines : lines).join("; ");
  const cleaned = line.replace(new RegExp(`${command}: error: `, "g"), "").replace(/^error: /, "");
  return cleaned || `${command} exited with code ${String(result.code)}`;
}

function failed(command: string, result: RunResult): DynError {
  if (result.missing) {
    return new DynError("DYN_SLURM_FAILED", `${command} not found on PATH`, {
      hint: "run dyn on a SLURM login node (dyn doctor checks the cluster), or use --dry-run",
    });
  }
  return new DynError("DYN_SLURM_FAILED", `${command}: ${slurmMessage(command, result)}`, {
    hint: `SLURM refused the request; dyn doctor checks partitions, GPUs and pyxis`,
  });
}

const invalidJob = (stderr: string) => /invalid job id/i.test(stderr);

/**
 * Bounds for the calls every poll makes. squeue answers from slurmctld's memory (about 0.01 s on the
 * testbed); sacct asks slurmdbd (about 0.1 s) and hangs for as long as a stuck slurmdbd does, so it
 * is cut short and then treated as "no accounting" for the rest of this process.
 */
export const QUERY_TIMEOUT_MS = { squeue: 30_000, sacct: 10_000, getent: 5_000 } as const;

/** The SLURM client on `host`: this machine (default), or a login node over ssh (remote.ts). */
export function createSlurm(
  env: Readonly<Record<string, string | undefined>>,
  host: Host = localHost(env),
): Slurm {
  let noAccounting = false;
  const run = (
    command: string,
    args: readonly string[],
    _env: unknown,
    cwd?: string,
    timeoutMs?: number,
  ): Promise<RunResult> =>
    host.run(command, args, { cwd, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
  return {
    async submit(scriptPath, { cwd, afterAny }) {
      const dependency = afterAny === undefined ? [] : [`--dependency=afterany:${afterAny}`];
      const r = await run("sbatch", ["--parsable", ...dependency, scriptPath], env, cwd);
      if (r.code !== 0) throw failed("sbatch", r);
      return parseSbatchParsable(r.stdout);
    },
    async queue(jobIds, options) {
      if (jobIds.length === 0) return new Map();
      const ended = options?.ended === true;
      const args = ended
        ? ["-h", "--states=all", "-j", jobIds.join(","), "-O", ENDED_QUEUE_FORMAT]
        : ["-h", "-j", jobIds.join(","), "-o", QUEUE_FORMAT];
      const r = await run("squeue", args, env, undefined, QUERY_TIMEOUT_MS.squeue);
      // squeue fails with "Invalid job id" when none of the jobs is known any more.
      if (r.code !== 0 && invalidJob(r.stderr)) return new Map();
      if (r.code !== 0) throw failed("squeue", r);
      return ended ? parseEndedQueue(r.stdout) : parseQueue(r.stdout);
    },
    async accounting(jobIds) {
      if (jobIds.length === 0 || noAccounting) return new Map();
      const r = await run(
        "sacct",
        ["-n", "-X", "-P", "-j", jobIds.join(","), "-o", "JobID,State,ExitCode"],
        env,
        undefined,
        QUERY_TIMEOUT_MS.sacct,
      );
      // Accounting is optional on many clusters: no sacct, "Slurm accounting storage is disabled" or
      // a slurmdbd that does not answer mean "unknown", not an error; asking again would not help.
      if (r.code !== 0) {
        noAccounting = true;
        return new Map();
      }
      const entries = parseAccounting(r.stdout);
      const uids = [...new Set([...entries.values()].flatMap((e) => (e.by ? [e.by] : [])))];
      if (uids.length === 0) return entries;
      // getent exits 2 when some uid is unknown, and still prints the others.
      const names = parsePasswd(
        (await run("getent", ["passwd", ...uids], env, undefined, QUERY_TIMEOUT_MS.getent)).stdout,
      );
      for (const [id, e] of entries)
        if (e.by) entries.set(id, { ...e, by: names.get(e.by) ?? `uid ${e.by}` });
      return entries;
    },
    async cancel(jobId) {
      const r = await run("scancel", [jobId], env);
      if (r.code !== 0) throw failed("scancel", r);
    },
    async probe(command, args, options) {
      const r = await run(command, args, env, undefined, options?.timeoutMs ?? 20_000);
      return {
        found: !r.missing,
        code: r.code,
        stdout: r.stdout,
        stderr: r.stderr,
        timedOut: r.timedOut === true,
      };
    },
  };
}
