/**
 * `dyn status [job|run-dir]…`: queue state (one squeue call per poll for all jobs, one sacct call for
 * the jobs that are not running any more), readiness per role from each job's status file, the URL,
 * and how each job ended (SLURM's reason; after the end, the URL and the counts are marked history).
 * A failed job carries its attribution (core's attributeFailure). `--watch` refreshes with backoff
 * (2 s → 10 s) until no job is in the queue. `--timeline` prints each job's time to ready phase by
 * phase (core's computeTimeline), with the queue wait from SLURM (one sacct call, one squeue call for
 * what sacct does not know).
 */
import { DynError, type Timeline } from "@dyn/core";
import { chainOf, observeChains } from "../chain.js";
import { currentHost } from "../host.js";
import { type Io, printJson, style } from "../io.js";
import {
  backoff,
  endSentence,
  endText,
  failedJson,
  isActive,
  type Observation,
  observe as observeLone,
  queueTimes,
  rolesText,
  type Target,
  timelineOf,
} from "../observe.js";
import { registryDir, remember } from "../registry.js";
import { knownDeployments, readDeployment } from "../run-dir.js";
import { readSweep } from "../sweep-record.js";
import { pad, runsDirOf, targetOf } from "./shared.js";

export function statusJson(
  observations: readonly Observation[],
  timelines?: ReadonlyArray<Timeline | null>,
  ok = true,
) {
  return {
    schemaVersion: 1,
    format: "dyn.status/v1",
    ok,
    deployments: observations.map((o, i) => ({
      jobId: o.jobId,
      name: o.name,
      // the login node it runs on (--remote, DYN_REMOTE, remote:, or its registry entry); null: here
      remote: currentHost().remote ?? null,
      runDir: o.runDir,
      state: o.state,
      // url and roles are live only while live is true; once the job ended, lastUrl and roles are
      // history and end says how it ended
      live: o.live,
      url: o.url,
      lastUrl: o.lastUrl,
      end: o.end,
      // SLURM's own words keep their case, in slurmState
      queue: o.queue
        ? { slurmState: o.queue.state, reason: o.queue.reason, nodes: o.queue.nodes, time: o.queue.time }
        : null,
      accounting: o.accounting
        ? { slurmState: o.accounting.state, exitCode: o.accounting.exitCode, by: o.accounting.by ?? null }
        : null,
      roles: o.roles.map((r) => ({ ...r, hetGroup: r.hetGroup ?? null })),
      // heterogeneous jobs: per component its resources, roles and nodes; null for an ordinary job
      components: o.components,
      failed: failedJson(o.failed),
      // whose fault a failure is: { component, node, code, category, rule, reason, message, logTail, log }
      attribution: o.attribution,
      attempt: o.summary?.attempt ?? 1,
      previous: o.summary?.previous
        ? { state: o.summary.previous.state, failed: failedJson(o.summary.previous.failed) }
        : null,
      // The port window the job claimed at run time: { window, base, end, preferred }.
      ports: o.summary?.ports ?? null,
      // time to ready phase by phase (docs/cli.md, dyn status --timeline)
      timeline: timelines?.[i] ?? null,
      // keep-alive: every attempt {attempt, jobId, state, live, url, submittedBy, handedOver,
      // refused}; jobId/state/url above are the current attempt's (url: current-url); null otherwise
      chain: o.chain ?? null,
    })),
  };
}

const secs = (s: number) => `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;

/** One job's timeline as text: the phases, the processes, the slowest, dyn's overhead. */
export function timelineText(jobId: string | null, t: Timeline | null): string {
  const job = `job ${jobId ?? "-"}`;
  if (!t) return `${job}: no timeline (the job has not started: nothing in its status file yet)`;
  const outcome =
    t.outcome === "ready" && t.toReady !== null
      ? `ready ${secs(t.toReady)} after ${t.queueSource ? "submit" : "its start"}`
      : t.outcome;
  const source = t.queueSource
    ? `; queue times from ${t.queueSource === "dyn" ? "dyn's submit record" : t.queueSource}`
    : "";
  const rows = [["PHASE", "AT", "TOOK", ""]];
  for (const p of t.phases) {
    const note = [p.failed ? "FAILED here" : "", p.overhead ? "dyn" : "", p.slowest ?? ""]
      .filter(Boolean)
      .join("; ");
    rows.push([p.label, `+${secs(p.start - t.origin)}`, secs(p.seconds), note]);
  }
  const lines = [`${job}: ${outcome}${source}`, ...indent(pad(rows))];
  if (t.processes.length > 0) {
    const procs = [["PROCESS", "ROLE", "NODE", "LAUNCHED", "REGISTERED"]];
    const at = (s: number | null) => (s === null ? "-" : `+${secs(s)}`);
    for (const p of t.processes)
      procs.push([
        p.step,
        p.role,
        p.node ?? "-",
        at(p.launched),
        `${at(p.registered)}${p.source === "component" ? " (component)" : ""}`,
      ]);
    lines.push(
      "  processes (times from job start; registered = its instance first listed at /health, or (component) = when its component had every instance):",
    );
    lines.push(...indent(pad(procs)));
  }
  const setups = t.nodes.filter((n) => n.setupStart !== null && n.setupEnd !== null);
  if (setups.length > 0) {
    const rows2 = [["NODE", "SETUP BEGAN", "ENDED", "TOOK"]];
    for (const n of setups)
      rows2.push([
        n.name,
        `+${secs(n.setupStart as number)}`,
        `+${secs(n.setupEnd as number)}`,
        secs(Math.max(0, (n.setupEnd as number) - (n.setupStart as number))),
      ]);
    lines.push("  node setup per node (times from job start):", ...indent(pad(rows2)));
  }
  const slow = t.slowestProcess;
  if (slow)
    lines.push(
      `  slowest: ${slow.steps.join(", ") || slow.component} (${slow.component}${t.slowestNode ? ` on ${t.slowestNode}` : ""}): ${secs(slow.seconds)} from launch to registered`,
    );
  const parts = Object.entries(t.overhead.phases).map(([id, s]) => `${id} ${secs(s)}`);
  lines.push(
    `  dyn's overhead: ${secs(t.overhead.seconds)}${parts.length > 0 ? ` (${parts.join(", ")})` : ""}`,
  );
  return lines.join("\n");
}

const indent = (text: string) => text.split("\n").map((l) => `  ${l}`.trimEnd());

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
    const a = o.attribution;
    if (a)
      lines.push(
        `  ${o.jobId}: ${a.category} failure: ${a.component}${a.node ? ` on ${a.node}` : ""}${a.code !== null ? `, exit code ${a.code}` : ""} (${a.reason})`,
      );
    // A heterogeneous job: which nodes each component's roles run on.
    for (const c of o.components ?? [])
      lines.push(
        `  ${o.jobId}: component ${c.index}${c.partition ? ` (partition ${c.partition})` : ""}: ${c.roles.join(", ")} on ${c.hosts ? c.hosts.join(",") : `node${c.nodes.length > 1 ? "s" : ""} ${c.nodes.join(",")}`}`,
      );
    const w = o.summary?.ports;
    if (w && w.window !== w.preferred)
      lines.push(
        `  ${o.jobId}: ports ${w.base}-${w.end} (window ${w.window}; its own window ${w.preferred} was taken on a node)`,
      );
    for (const a of o.chain ?? [])
      lines.push(
        `  ${o.jobId}: chain attempt ${a.attempt}: job ${a.jobId ?? "-"} ${a.state}${a.url ? ` ${a.live ? "" : "was "}${a.url}` : ""}${a.refused ? ` (no successor: ${a.refused})` : ""}`,
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
  if (flags.sweep !== undefined && args.length > 0)
    throw new DynError("DYN_USAGE", `--sweep: shows a whole sweep; give it or ${args[0]}, not both`, {
      key: "--sweep",
    });
  // --sweep <id>: every submitted point of the sweep, in point order.
  const targets: Target[] =
    flags.sweep !== undefined
      ? readSweep(runsDir, String(flags.sweep)).record.points.flatMap((p) =>
          p.jobId ? [{ jobId: p.jobId, deployment: readDeployment(p.runDir) }] : [],
        )
      : args.length > 0
        ? args.map((a) => targetOf(a, runsDir, io))
        : knownDeployments(runsDir, registryDir(io.env)).map((d) => ({ jobId: d.job?.jobId, deployment: d }));
  const slurm = await io.slurm();
  const register = (e: Parameters<typeof remember>[1]) => remember(io.env, e, () => undefined);
  const observe = (s: typeof slurm, t: readonly Target[]) =>
    targets.some((x) => chainOf(x.deployment)) ? observeChains(s, t, register) : observeLone(s, t);
  if (flags.watch && flags.timeline)
    throw new DynError(
      "DYN_USAGE",
      "--timeline: cannot be combined with --watch (the timeline is printed once)",
      {
        key: "--timeline",
      },
    );
  if (!flags.watch) {
    const obs = await observe(slurm, targets);
    // SLURM's queue times only when asked (--timeline): plain --json keeps one squeue and one sacct call.
    const times = flags.timeline
      ? await queueTimes(
          slurm,
          obs.flatMap((o) => (o.jobId ? [o.jobId] : [])),
        )
      : undefined;
    const timelines =
      flags.json || flags.timeline
        ? obs.map((o, i) => timelineOf(o, targets[i]?.deployment, o.jobId ? times?.get(o.jobId) : undefined))
        : undefined;
    const unknown = obs.filter((o) => o.state === "unknown" && !o.runDir);
    if (flags.json) printJson(io, statusJson(obs, timelines, unknown.length === 0));
    else if (flags.timeline)
      io.stdout(`${obs.map((o, i) => timelineText(o.jobId, timelines?.[i] ?? null)).join("\n\n")}\n`);
    else io.stdout(`${statusTable(io, obs)}\n`);
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
