/**
 * `dyn status [job|run-dir]…`: queue state (one squeue call per poll for all jobs, one sacct call for
 * the jobs that are not running any more), readiness per role from each job's status file, the URL,
 * and how each job ended (SLURM's reason; after the end, the URL and the counts are marked history).
 * `--watch` refreshes with backoff (2 s → 10 s) until no job is in the queue.
 */
import { DynError } from "@dyn/core";
import { type Io, printJson, style } from "../io.js";
import {
  backoff,
  endSentence,
  endText,
  isActive,
  type Observation,
  observe,
  rolesText,
  type Target,
} from "../observe.js";
import { registryDir } from "../registry.js";
import { knownDeployments } from "../run-dir.js";
import { pad, runsDirOf, targetOf } from "./shared.js";

export function statusJson(observations: readonly Observation[]) {
  return {
    format: "dyn.status/v1",
    deployments: observations.map((o) => ({
      jobId: o.jobId,
      name: o.name,
      runDir: o.runDir,
      state: o.state,
      // url and roles are live only while live is true; once the job ended, lastUrl and roles are
      // history and end says how it ended
      live: o.live,
      url: o.url,
      lastUrl: o.lastUrl,
      end: o.end,
      endReason: o.summary?.endReason ?? null,
      queue: o.queue
        ? { state: o.queue.state, reason: o.queue.reason, nodes: o.queue.nodes, time: o.queue.time }
        : null,
      accounting: o.accounting
        ? { state: o.accounting.state, exitCode: o.accounting.exitCode, by: o.accounting.by ?? null }
        : null,
      roles: o.roles,
      failed: o.failed,
      attempt: o.summary?.attempt ?? 1,
      previous: o.summary?.previous ?? null,
      // The port window the job claimed at run time: { window, base, end, preferred }.
      ports: o.summary?.ports ?? null,
    })),
  };
}

export function statusTable(io: Io, observations: readonly Observation[]): string {
  const s = style(io);
  if (observations.length === 0) return "no deployments (dyn deploy creates one)";
  const rows = [["JOB", "STATE", "READY", "URL", "RUN DIR"]];
  for (const o of observations) {
    const state = o.end
      ? endText(o.end)
      : o.state === "queued" && o.queue
        ? `queued (${o.queue.reason})`
        : o.state === "failed" && o.failed
          ? `failed: ${o.failed.component}`
          : o.state;
    const attempt = o.summary && o.summary.attempt > 1 ? ` (attempt ${o.summary.attempt})` : "";
    // After the end, the counts and the URL are what the deployment had: history, marked "was".
    const roles = rolesText(o);
    const ready = o.live ? roles : roles && o.summary ? `was ${roles}` : "";
    const url = o.live ? o.url : o.lastUrl && `was ${o.lastUrl}`;
    rows.push([o.jobId ?? "-", `${state}${attempt}`, ready || "-", url || "-", o.runDir ?? "-"]);
  }
  const lines = pad(rows).split("\n");
  lines[0] = s.bold(lines[0] ?? "");
  for (const o of observations) {
    if (o.end) lines.push(`  ${o.jobId}: ${endSentence(o.end)}`);
    else if (o.failed) lines.push(`  ${o.jobId}: ${o.failed.component}: ${o.failed.message}`);
    const w = o.summary?.ports;
    if (w && w.window !== w.preferred)
      lines.push(
        `  ${o.jobId}: ports ${w.base}-${w.end} (window ${w.window}; its own window ${w.preferred} was taken on a node)`,
      );
    const p = o.summary?.previous;
    if (p)
      lines.push(
        `  ${o.jobId}: requeued by SLURM; attempt ${(o.summary?.attempt ?? 2) - 1} ended ${p.failed ? `failed: ${p.failed.component}: ${p.failed.message}` : p.state}`,
      );
  }
  return lines.join("\n");
}

export async function run(flags: Record<string, unknown>, args: string[], io: Io): Promise<number> {
  const runsDir = await runsDirOf(flags, io);
  const targets: Target[] =
    args.length > 0
      ? args.map((a) => targetOf(a, runsDir, io))
      : knownDeployments(runsDir, registryDir(io.env)).map((d) => ({ jobId: d.job?.jobId, deployment: d }));
  const slurm = await io.slurm();
  if (!flags.watch) {
    const obs = await observe(slurm, targets);
    if (flags.json) printJson(io, statusJson(obs));
    else io.stdout(`${statusTable(io, obs)}\n`);
    const unknown = obs.filter((o) => o.state === "unknown" && !o.runDir);
    if (unknown.length > 0 && !flags.json)
      io.stderr(
        `hint: job ${unknown.map((o) => o.jobId).join(", ")} is unknown here (no run directory under ${runsDir}, not in squeue or sacct)\n`,
      );
    return unknown.length > 0 ? 1 : 0;
  }
  if (flags.json)
    throw new DynError("DYN_USAGE", "--watch: cannot be combined with --json (one document only)", {
      key: "--watch",
    });
  const { signal, dispose } = io.interrupts();
  // Back off while nothing changes (2 s → 10 s); after a change, look again soon.
  const newDelay = () => backoff(2000, 10_000);
  let delay = newDelay();
  let previous = "";
  try {
    for (;;) {
      const obs = await observe(slurm, targets);
      const text = statusTable(io, obs);
      if (text !== previous) {
        if (io.isTTY) io.stdout("\u001b[H\u001b[2J");
        io.stdout(`${text}\n${io.isTTY ? "" : "\n"}`);
        if (previous !== "") delay = newDelay();
        previous = text;
      }
      if (!obs.some(isActive)) return 0;
      await io.sleep(delay(), signal);
      if (signal.aborted) return 130;
    }
  } finally {
    dispose();
  }
}
