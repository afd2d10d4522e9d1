/**
 * What a deployment is doing: the queue (one squeue call for every job), accounting for jobs that
 * left it (one sacct call), and the job's own status file folded by core's summarizeStatus.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseStatusLines, type StatusSummary, summarizeStatus } from "@dyn/core";
import { type Deployment, FILES } from "./run-dir.js";
import type { AccountingEntry, QueueEntry, Slurm } from "./slurm.js";

export interface RoleReadiness {
  readonly role: string;
  readonly component: string;
  readonly registered: number | null;
  readonly expected: number;
}

export interface Observation {
  readonly jobId: string | null;
  readonly runDir: string | null;
  readonly name: string | null;
  readonly queue: QueueEntry | null;
  readonly accounting: AccountingEntry | null;
  /** queued, starting, ready, failed, stopped, ended, timeout, cancelled, preempted, node_fail, unknown, not-submitted */
  readonly state: string;
  readonly url: string | null;
  /** The URL the deployment had, also after it ended. */
  readonly lastUrl: string | null;
  readonly roles: readonly RoleReadiness[];
  readonly failed: { readonly component: string; readonly message: string } | null;
  readonly summary: StatusSummary | null;
}

export interface Target {
  readonly jobId: string | undefined;
  readonly deployment: Deployment | undefined;
}

export function readSummary(runDir: string): StatusSummary | null {
  try {
    return summarizeStatus(parseStatusLines(readFileSync(join(runDir, FILES.status), "utf8")));
  } catch {
    return null;
  }
}

/** "prefill=1/2 backend=0/2" → per-role counts using the plan's groups (component → roles). */
export function rolesOf(deployment: Deployment | undefined, summary: StatusSummary | null): RoleReadiness[] {
  const groups = deployment?.plan?.groups ?? [];
  const have = new Map<string, number>();
  for (const item of (summary?.registered ?? "").split(/\s+/)) {
    const m = /^(.+)=(\d+)\/(\d+)$/.exec(item);
    if (m) have.set(m[1] as string, Number(m[2]));
  }
  const ready = summary?.state === "ready";
  return groups
    .filter((g) => g.workers > 0)
    .map((g) => {
      const expected = deployment?.plan?.expected[g.component] ?? g.workers;
      const shared = groups.filter((o) => o.component === g.component && o.workers > 0).length > 1;
      const got = have.get(g.component);
      return {
        role: g.role,
        component: g.component,
        registered: ready ? g.workers : got === undefined ? null : shared ? Math.min(got, g.workers) : got,
        expected: shared ? g.workers : expected,
      };
    });
}

const TERMINAL_QUEUE = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "NODE_FAIL",
  "PREEMPTED",
  "OUT_OF_MEMORY",
  "BOOT_FAIL",
  "DEADLINE",
]);

export function combine(
  target: Target,
  queue: QueueEntry | undefined,
  accounting: AccountingEntry | undefined,
  summary: StatusSummary | null,
): Observation {
  let state: string;
  if (!target.jobId) state = "not-submitted";
  else if (summary?.state === "failed") state = "failed";
  else if (queue && !TERMINAL_QUEUE.has(queue.state)) {
    if (queue.state === "PENDING" || queue.state === "CONFIGURING") state = "queued";
    else if (queue.state === "COMPLETING") state = "stopping";
    else
      state = summary?.state === "ready" ? "ready" : summary?.state === "stopped" ? "stopping" : "starting";
  } else if (accounting) state = accounting.state === "COMPLETED" ? "ended" : accounting.state.toLowerCase();
  else if (queue) state = queue.state.toLowerCase();
  else if (summary && summary.state !== "pending") state = summary.state === "stopped" ? "stopped" : "ended";
  else state = "unknown";
  // SLURM's own reason, from the steps' logs (time limit, scancel, preemption), once the job has ended.
  const live = queue !== undefined && !TERMINAL_QUEUE.has(queue.state);
  if (!live && summary?.endReason && (state === "stopped" || state === "ended" || state === "cancelled"))
    state = summary.endReason.toLowerCase();
  return {
    jobId: target.jobId ?? null,
    runDir: target.deployment?.runDir ?? null,
    name: target.deployment?.name ?? queue?.name ?? null,
    queue: queue ?? null,
    accounting: accounting ?? null,
    state,
    // A URL is live only while the job runs; afterwards it is history (lastUrl).
    url: live ? (summary?.url ?? null) : null,
    lastUrl: summary?.url ?? null,
    roles: rolesOf(target.deployment, summary),
    failed: summary?.failed ?? null,
    summary,
  };
}

/** One squeue call for all targets, one sacct call for the ones no longer queued. */
export async function observe(slurm: Slurm, targets: readonly Target[]): Promise<Observation[]> {
  const ids = [...new Set(targets.map((t) => t.jobId).filter((id): id is string => id !== undefined))];
  const queue = await slurm.queue(ids);
  const gone = ids.filter((id) => !queue.has(id));
  const accounting = gone.length > 0 ? await slurm.accounting(gone) : new Map<string, AccountingEntry>();
  return targets.map((t) =>
    combine(
      t,
      t.jobId ? queue.get(t.jobId) : undefined,
      t.jobId ? accounting.get(t.jobId) : undefined,
      t.deployment ? readSummary(t.deployment.runDir) : null,
    ),
  );
}

export const isActive = (o: Observation) => o.queue !== null && !TERMINAL_QUEUE.has(o.queue.state);

export function rolesText(o: Observation): string {
  return o.roles.map((r) => `${r.role} ${r.registered ?? "?"}/${r.expected}`).join(", ");
}

/** The log file of a failed component: a process's log from the plan, else a known infra log. */
export function logOfComponent(deployment: Deployment, component: string): string | undefined {
  const proc = deployment.plan?.processes.find((p) => p.id === component);
  if (proc) return join(deployment.runDir, proc.log);
  if (component === "container-preload") return join(deployment.runDir, "logs", "container-preload.log");
  return undefined;
}

export function tail(text: string, lines: number): string {
  const all = text.split("\n");
  if (all[all.length - 1] === "") all.pop();
  return (lines > 0 ? all.slice(-lines) : all).join("\n");
}

export function readTail(path: string, lines: number): string | undefined {
  try {
    return tail(readFileSync(path, "utf8"), lines);
  } catch {
    return undefined;
  }
}

/** Backoff between polls: start, ×1.5, capped. */
export function backoff(startMs: number, maxMs: number): () => number {
  let next = startMs;
  return () => {
    const now = next;
    next = Math.min(maxMs, Math.round(next * 1.5));
    return now;
  };
}
