/**
 * `dyn deploy`: resolve the spec, plan, render, write the run directory atomically, submit with
 * `sbatch --parsable`, record by-job/<id>. `--dry-run` stops before sbatch; `--wait` follows the job.
 */
import { basename, join } from "node:path";
import { DynError, explainPlan, planToJson, profileLine } from "@dyn/core";
import { runFs } from "../host.js";
import { type Io, printJson, progressLine, style } from "../io.js";
import {
  backoff,
  combine,
  endSentence,
  failedJson,
  logOfComponent,
  type Observation,
  observe,
  readSummary,
  readTail,
  rolesText,
} from "../observe.js";
import { checkPartition } from "../partition.js";
import { makeDirectory, outputDirectory } from "../paths.js";
import { type Prepared, prepare } from "../prepare.js";
import { remember } from "../registry.js";
import {
  batchLogPath,
  type Deployment,
  FILES,
  newRunDirPath,
  readDeployment,
  recordSubmission,
  writeRunDir,
} from "../run-dir.js";
import type { QueueEntry, Slurm } from "../slurm.js";
import { labelFor, missingSecrets } from "../spec-from-options.js";
import { loadSweep, notSweepFlags, selectPoint } from "../sweep.js";
import { renderLabelled } from "./render.js";

/** The first fields of every dyn.deploy/v1 document (json/deploy.ts); `ok` and `state` follow. */
const ENVELOPE = { schemaVersion: 1, format: "dyn.deploy/v1" } as const;

export function seconds(flag: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const s = String(value);
  if (!/^\d+$/.test(s) || Number(s) < 1)
    throw new DynError("DYN_USAGE", `${flag}: expected a number of seconds ≥ 1, got ${JSON.stringify(s)}`, {
      key: flag,
    });
  return Number(s);
}

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  const dryRun = flags.dryRun === true;
  const wait = flags.wait === true;
  if (dryRun && wait)
    throw new DynError("DYN_USAGE", "--wait: cannot wait for a --dry-run (nothing is submitted)", {
      key: "--wait",
    });
  if (!wait && flags.timeout !== undefined)
    throw new DynError("DYN_USAGE", "--timeout: only applies with --wait", {
      key: "--timeout",
      hint: "add --wait",
    });
  const timeout = seconds("--timeout", flags.timeout);
  if (flags.quiet && flags.json)
    throw new DynError("DYN_USAGE", "--quiet: cannot be combined with --json (one document only)", {
      key: "--quiet",
    });
  // --quiet: stdout is one line a script can capture (the URL with --wait, else the job id, or the
  // run directory of a dry run); everything else goes to stderr.
  const say = flags.quiet ? io.stderr : io.stdout;
  const sweep = await loadSweep(flags, io);
  if (sweep && flags.point === undefined) {
    const { deploySweep } = await import("./deploy-sweep.js");
    return deploySweep(flags, io, sweep, { dryRun, wait, say });
  }
  notSweepFlags(flags, sweep !== undefined);
  // --point n: that one point of the sweep, deployed on its own (no sweep record).
  const point = sweep && flags.point !== undefined ? selectPoint(sweep, flags.point) : undefined;
  const prepared = await prepare(flags, io, point ? { remote: true, point } : { remote: true });
  const { plan, runsDir, remote } = prepared;

  if (!dryRun) checkSecrets(prepared, io);

  const slurm = dryRun ? undefined : await io.slurm();
  // Before anything is written: the partition can hold the plan (when sinfo answers in time).
  if (slurm) await checkPartitions(prepared, slurm);
  const { runDir, files, logDir, logDirOutside } = writeRun(prepared, io, slurm !== undefined);
  const planJson = planToJson(plan);

  if (!slurm) {
    if (flags.json)
      printJson(io, {
        schemaVersion: 1,
        format: "dyn.deploy/v1",
        ok: true,
        state: "not_submitted",
        dryRun: true,
        jobId: null,
        cluster: null,
        remote: remote ?? null,
        runDir,
        files,
        next: [],
        wait: null,
        plan: planJson,
      });
    else {
      say(`${explainPlan(plan)}\n\n`);
      say(`dry run: nothing submitted. Files in ${runDir}${remote ? ` on ${remote}` : ""}:\n`);
      say(
        `  ${FILES.script}  the sbatch script\n  ${FILES.plan}   the plan (dyn plan --json)\n  ${FILES.spec}   the resolved spec (secret names only)\n`,
      );
      if (logDirOutside && !runFs().exists(logDir))
        say(`the batch log goes to ${logDir}/: create it before sbatch (dyn deploy does)\n`);
      say(`submit it yourself with: sbatch ${files.script}\n`);
      if (flags.quiet) io.stdout(`${runDir}\n`);
    }
    return 0;
  }

  let submitted: { jobId: string; cluster?: string };
  try {
    submitted = await slurm.submit(files.script, { cwd: runDir });
  } catch (err) {
    // Nothing was queued: leave no orphan run directory behind.
    runFs().remove(runDir);
    throw err;
  }
  const { jobId } = submitted;
  const job = { jobId, cluster: submitted.cluster ?? null, submittedAt: new Date(io.now()).toISOString() };
  recordSubmission(runsDir, runDir, job);
  remember(
    io.env,
    { ...job, runDir, name: basename(runDir), backend: planJson.backend, remote: remote ?? null },
    io.stderr,
  );
  const next = [`dyn status ${jobId}`, `dyn logs ${jobId}`, `dyn stop ${jobId}`];
  const s = style(io);
  if (!flags.json) {
    say(
      `submitted job ${s.bold(jobId)}${submitted.cluster ? ` on cluster ${submitted.cluster}` : ""}${remote ? ` via ${remote}` : ""}\n`,
    );
    say(`run directory: ${runDir}${remote ? ` (on ${remote})` : ""}\n`);
    if (plan.profile) say(`${profileLine(plan.profile)}\n`);
    if (!wait) say(`next: ${next.join("  |  ")}\n`);
    if (flags.quiet && !wait) io.stdout(`${jobId}\n`);
  }
  const submittedJson = {
    dryRun: false,
    jobId,
    cluster: submitted.cluster ?? null,
    remote: remote ?? null,
    runDir,
    files,
    next,
  };
  if (!wait) {
    if (flags.json)
      printJson(io, {
        ...ENVELOPE,
        ok: true,
        state: "submitted",
        ...submittedJson,
        wait: null,
        plan: planJson,
      });
    return 0;
  }
  const deployment = readDeployment(runDir);
  const result = await follow(io, slurm, deployment, jobId, timeout, flags.json === true);
  if (flags.json) {
    printJson(io, {
      ...ENVELOPE,
      ok: result.code === 0,
      // the job's state when the wait ended (dyn status's state; the queue poll may lag the READY)
      state: result.outcome === "ready" ? "ready" : (result.observation?.state ?? "submitted"),
      ...submittedJson,
      wait: {
        outcome: result.outcome,
        url: result.observation?.url ?? null,
        failed: failedJson(result.observation?.failed ?? null),
        // whose fault the failure is (dyn status --json's attribution)
        attribution: result.observation?.attribution ?? null,
        // how the job ended, when it did (dyn status's end)
        end: result.observation?.end ?? null,
      },
      plan: planJson,
    });
  }
  return result.code;
}

/** Secrets the job reads from this shell must be set here (a missing one is an input error). */
export function checkSecrets(prepared: Prepared, io: Io): void {
  const { spec, input } = prepared;
  const missing = missingSecrets(spec, io.env);
  if (missing.length === 0) return;
  const name = missing[0] as string;
  const label = labelFor(input, `secrets.${spec.secrets.indexOf(name)}`);
  const where = label.startsWith("secrets.") ? "secret" : label.startsWith("--") ? "--secret" : label;
  throw new DynError(
    "DYN_SECRET_MISSING",
    `${where} ${name}: not set in this shell${missing.length > 1 ? ` (nor ${missing.slice(1).join(", ")})` : ""}; the job reads it from the environment at run time`,
    {
      key: `secrets`,
      hint: `export ${name}=… before dyn deploy (the value is never written or printed)`,
    },
  );
}

/** The partition (each component's, for a heterogeneous job) can hold the plan, when sinfo answers in time. */
export async function checkPartitions(prepared: Prepared, slurm: Slurm): Promise<void> {
  const { plan, spec, input } = prepared;
  const labels = { nodes: labelFor(input, "slurm.nodes"), partition: labelFor(input, "slurm.partition") };
  if (!plan.components) await checkPartition(slurm, spec.slurm.partition, plan.nodes, labels);
  // A heterogeneous job: each component's nodes in its own partition (the role's, else the top-level one).
  for (const c of plan.components ?? []) {
    const own = c.roles.find((r) => spec.roles[r]?.slurm?.partition !== undefined);
    await checkPartition(slurm, c.partition, c.nodes, {
      nodes: `component ${c.index} (${c.index === 0 ? ["frontend", ...c.roles].join(", ") : c.roles.join(", ")})`,
      partition: own ? labelFor(input, `roles.${own}.slurm.partition`) : labels.partition,
    });
  }
}

export interface WrittenRun {
  readonly runDir: string;
  readonly files: { readonly script: string; readonly plan: string; readonly spec: string };
  readonly logDir: string;
  readonly logDirOutside: boolean;
}

/**
 * The run directory, written atomically (`extra`: more files in it), and the batch log's directory:
 * sbatch does not create it; one in the run directory is made now, one elsewhere only when
 * `submitting` (a dry run names it).
 */
export function writeRun(
  prepared: Prepared,
  io: Io,
  submitting: boolean,
  extra: Readonly<Record<string, string>> = {},
): WrittenRun {
  const { plan, spec, runsDir, runsDirLabel, input } = prepared;
  // Created here one directory at a time (a recursive mkdir never returns under /proc).
  makeDirectory(runsDir, runsDirLabel);
  const runDir = newRunDirPath(runsDir, spec.slurm.jobName, io.now());
  const script = renderLabelled(plan, runDir, runsDirLabel);
  writeRunDir(runDir, {
    [FILES.script]: script,
    [FILES.plan]: `${JSON.stringify(planToJson(plan), null, 2)}\n`,
    [FILES.spec]: `${JSON.stringify(plan.spec, null, 2)}\n`,
    ...extra,
  });
  const files = {
    script: join(runDir, FILES.script),
    plan: join(runDir, FILES.plan),
    spec: join(runDir, FILES.spec),
  };
  const logDir = outputDirectory(spec.slurm.output, runDir);
  const logDirOutside = !`${logDir}/`.startsWith(`${runDir}/`);
  if (!logDirOutside || submitting) {
    try {
      makeDirectory(logDir, labelFor(input, "slurm.output"));
    } catch (err) {
      runFs().remove(runDir);
      throw err;
    }
  }
  return { runDir, files, logDir, logDirOutside };
}

export interface FollowResult {
  readonly code: number;
  readonly outcome: "ready" | "failed" | "timeout" | "interrupted";
  readonly observation: Observation | undefined;
}

/** Follow a submitted job until ready, failed, timed out or Ctrl-C (which leaves it running). */
export async function follow(
  io: Io,
  slurm: Slurm,
  deployment: Deployment,
  jobId: string,
  timeoutSeconds: number | undefined,
  json: boolean,
): Promise<FollowResult> {
  const { signal, dispose } = io.interrupts();
  const line = progressLine(io);
  const s = style(io);
  const start = io.now();
  const queueDelay = backoff(2000, 10_000);
  let nextQueueAt = 0;
  let queued = true;
  let last: Observation | undefined;
  const target = { jobId, deployment };
  try {
    for (;;) {
      if (signal.aborted) {
        line.done();
        io.stderr(
          `interrupted: job ${jobId} keeps running (dyn status ${jobId}; dyn stop ${jobId} to end it)\n`,
        );
        return { code: 130, outcome: "interrupted", observation: last };
      }
      const summary = readSummary(deployment.runDir);
      let entry: QueueEntry | undefined;
      if (io.now() >= nextQueueAt) {
        const q = await slurm.queue([jobId]);
        entry = q.get(jobId);
        queued = entry !== undefined;
        nextQueueAt = io.now() + queueDelay();
      }
      // Once the job left the queue: how it ended, in SLURM's words (squeue --states=all, sacct).
      last = queued
        ? combine(target, entry ?? last?.queue ?? undefined, undefined, summary)
        : ((await observe(slurm, [target]))[0] as Observation);
      if (queued && summary?.state === "ready") {
        line.done();
        io.stderr(`${s.green("ready")}: ${rolesText(last)}\n`);
        if (!json) io.stdout(`${last.url}\n`);
        return { code: 0, outcome: "ready", observation: last };
      }
      if (summary?.state === "failed" || !queued) {
        if (queued) last = (await ended(io, slurm, target, signal)) ?? last;
        line.done();
        reportFailure(io, deployment, jobId, last);
        return { code: 1, outcome: "failed", observation: last };
      }
      const elapsed = Math.round((io.now() - start) / 1000);
      if (timeoutSeconds !== undefined && elapsed >= timeoutSeconds) {
        line.done();
        io.stderr(
          `error: job ${jobId} not ready after ${timeoutSeconds} s (${last.state}); it keeps running (DYN_TIMEOUT)\n`,
        );
        io.stderr(`hint: dyn status ${jobId} --watch to keep following, dyn stop ${jobId} to end it\n`);
        return { code: 1, outcome: "timeout", observation: last };
      }
      const reason = last.queue?.state === "PENDING" ? ` (${last.queue.reason})` : "";
      const roles = rolesText(last);
      const state = `job ${jobId} ${last.state}${reason}${roles ? ` · ${roles}` : ""}`;
      line.update(`${state} · ${elapsed} s`, state);
      await io.sleep(1000, signal);
    }
  } finally {
    dispose();
  }
}

/** How long a failing job may take to leave the queue (its steps get DYN_GRACE, 10 s, to stop). */
const FAILED_LEAVES_MS = 15_000;

/**
 * The script said a component failed and is stopping the steps: wait (bounded, with backoff) for
 * SLURM to end the job, then say how it ended in SLURM's words (a job cancelled meanwhile is no
 * component failure). Undefined when it is still in the queue after FAILED_LEAVES_MS or on Ctrl-C.
 */
async function ended(
  io: Io,
  slurm: Slurm,
  target: { jobId: string; deployment: Deployment },
  signal: AbortSignal,
): Promise<Observation | undefined> {
  const start = io.now();
  const delay = backoff(500, 2000);
  while (io.now() - start < FAILED_LEAVES_MS && !signal.aborted) {
    await io.sleep(delay(), signal);
    if (!(await slurm.queue([target.jobId])).has(target.jobId)) return (await observe(slurm, [target]))[0];
  }
  return undefined;
}

function reportFailure(io: Io, deployment: Deployment, jobId: string, o: Observation): void {
  const failed = o.failed;
  if (failed) {
    const exit = o.end?.exitCode ? ` (exit code ${o.end.exitCode}, ${o.end.source})` : "";
    io.stderr(`error: job ${jobId} failed: ${failed.component}: ${failed.message}${exit} (DYN_JOB_FAILED)\n`);
    const a = o.attribution;
    if (a) io.stderr(`cause: ${a.category}${a.node ? ` on ${a.node}` : ""}: ${a.reason}\n`);
  } else if (o.end) {
    const when = o.summary?.state === "ready" ? "" : " before it was ready";
    io.stderr(`error: job ${jobId} ended${when}: ${endSentence(o.end)} (DYN_JOB_FAILED)\n`);
  } else {
    io.stderr(`error: job ${jobId} left the queue before it was ready (DYN_JOB_FAILED)\n`);
  }
  const spec = deployment.plan?.spec;
  const log =
    (failed && logOfComponent(deployment, failed.component)) ??
    (spec
      ? batchLogPath(deployment.runDir, spec.slurm.output, jobId, spec.slurm.jobName, io.env.USER)
      : undefined);
  const text = log ? readTail(log, 20) : undefined;
  if (log && text !== undefined) io.stderr(`--- last lines of ${log} ---\n${text}\n---\n`);
  io.stderr(`hint: dyn logs ${jobId}${failed ? ` (the batch log); ${log ?? ""}` : ""}\n`);
}
