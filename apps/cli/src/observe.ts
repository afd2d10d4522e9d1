/**
 * What a deployment is doing: the queue (one squeue call for every job, which also gives the final
 * state of jobs that ended but are still in slurmctld's memory), accounting for jobs that are not
 * running any more (one sacct call), and the job's own status file folded by core's summarizeStatus.
 * How a job ended is SLURM's word where SLURM has one (sacct, then squeue), the status file's
 * otherwise.
 */
import { join, relative } from "node:path";
import {
  type Attribution,
  attributeFailure,
  type ComponentResourcesJson,
  componentResourcesJson,
  computeTimeline,
  nodeOfStep,
  parseStatusLines,
  type Registration,
  type StatusSummary,
  summarizeStatus,
  type Timeline,
  type TimelineInput,
} from "@dyn/core";
import { runFs } from "./host.js";
import { batchLogPath, type Deployment, FILES } from "./run-dir.js";
import { type AccountingEntry, hetComponent, type QueueEntry, type Slurm } from "./slurm.js";

export interface RoleReadiness {
  readonly role: string;
  readonly component: string;
  readonly registered: number | null;
  readonly expected: number;
  /** Heterogeneous jobs only: the --het-group the role runs in (components[] has its nodes). */
  readonly hetGroup?: number;
}

/** A heterogeneous job's component as `dyn status` shows it: its resources, roles and nodes. */
export interface ComponentPlacement extends ComponentResourcesJson {
  readonly index: number;
  /** The pyxis image its processes run in, null without a container. */
  readonly image: string | null;
  /** Worker roles; component 0 also runs the frontend(s) and etcd/NATS. */
  readonly roles: readonly string[];
  /** Node indices of the job's node list (plan.json). */
  readonly nodes: readonly number[];
  /** Their SLURM names once the job reported them (status file `node` events), else null. */
  readonly hosts: readonly string[] | null;
}

/** Per component of a heterogeneous job, where its roles run; null for an ordinary job. */
export function componentsOf(
  deployment: Deployment | undefined,
  summary: StatusSummary | null,
): ComponentPlacement[] | null {
  const components = deployment?.plan?.components;
  if (!components) return null;
  const name = new Map((summary?.nodes ?? []).map((n) => [n.index, n.name]));
  return components.map((c) => {
    const nodes = Array.from({ length: c.nodes }, (_, i) => c.firstNode + i);
    const hosts = nodes.map((k) => name.get(k));
    return {
      index: c.index,
      ...componentResourcesJson(c),
      image: c.container.kind === "pyxis" ? c.container.image : null,
      roles: c.index === 0 ? ["frontend", ...c.roles] : [...c.roles],
      nodes,
      hosts: hosts.every((h) => h !== undefined) ? (hosts as string[]) : null,
    };
  });
}

/** How a job ended. */
export interface JobEnd {
  /**
   * SLURM's final job state (a key of END_REASONS: FAILED, TIMEOUT, CANCELLED, NODE_FAIL,
   * OUT_OF_MEMORY, PREEMPTED, …), or UNKNOWN when only the status file speaks and it does not say.
   */
  readonly slurmState: string;
  /** Who cancelled the job (a user name, else "uid N"), where SLURM says (sacct). */
  readonly by: string | null;
  /** The batch script's exit code as SLURM reports it, "code:signal". */
  readonly exitCode: string | null;
  /** The component that failed, from the status file: only when it can be the cause (FAILED, OUT_OF_MEMORY). */
  readonly component: string | null;
  /** What the script said about that component ("exited with code 3 (log: logs/decode-w0.log)"). */
  readonly message: string | null;
  /** Where the reason comes from: sacct (slurmdbd), squeue (slurmctld's memory), the job's status file. */
  readonly source: "sacct" | "squeue" | "status-file";
}

export interface Observation {
  readonly jobId: string | null;
  readonly runDir: string | null;
  readonly name: string | null;
  /** The squeue entry: live, or the final state of a job slurmctld still remembers. */
  readonly queue: QueueEntry | null;
  readonly accounting: AccountingEntry | null;
  /**
   * queued, starting, ready, stopping, failed (live: a component failed and the job is ending), then
   * once ended END_REASONS' state (failed, timeout, cancelled, …, ended for COMPLETED), stopped or
   * ended (only the status file, without a reason), unknown, not_submitted
   */
  readonly state: string;
  /** The job is in the queue and not in a final state: url and roles are live. */
  readonly live: boolean;
  /** The URL while the job runs; null once it ended (then lastUrl is history). */
  readonly url: string | null;
  /** The URL the deployment had, also after it ended. */
  readonly lastUrl: string | null;
  /** Readiness per role: live while the job runs, the last counts seen once it ended. */
  readonly roles: readonly RoleReadiness[];
  /** Heterogeneous jobs: where each component's roles run (null for an ordinary job). */
  readonly components: readonly ComponentPlacement[] | null;
  /** A component's failure: while the job ends because of it, or when it is how the job ended. */
  readonly failed: { readonly component: string; readonly message: string } | null;
  /** How the job ended; null while it runs (or when nothing at all is known of it). */
  readonly end: JobEnd | null;
  /** Whose fault a failure is (core's attributeFailure), with the log it read; null unless failed. */
  readonly attribution: FailureAttribution | null;
  readonly summary: StatusSummary | null;
  /** A keep-alive deployment's attempts (chain.ts); absent for a lone job. */
  readonly chain?: ReadonlyArray<import("./chain.js").ChainEntry>;
}

/** core's Attribution plus the log file (relative to the run directory) its lines come from. */
export interface FailureAttribution extends Attribution {
  readonly log: string | null;
}

/** Log lines an attribution carries (and reads its rules on). */
export const ATTRIBUTION_LOG_LINES = 20;

export interface Target {
  readonly jobId: string | undefined;
  readonly deployment: Deployment | undefined;
}

export function readSummary(runDir: string): StatusSummary | null {
  try {
    return summarizeStatus(parseStatusLines(runFs().readText(join(runDir, FILES.status))));
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
        ...(g.hetGroup !== undefined && g.hetGroup !== null ? { hetGroup: g.hetGroup } : {}),
      };
    });
}

/**
 * SLURM's final job states (squeue's %T, sacct's State): the state dyn shows, the words for it, and
 * whether a dyn component's failure can be the cause. Every other final state is SLURM ending the
 * job from outside (scancel, the time limit, preemption, a node), never a component failure.
 */
export const END_REASONS: Readonly<
  Record<string, { readonly state: string; readonly text: string; readonly component: boolean }>
> = {
  COMPLETED: { state: "ended", text: "completed", component: false },
  FAILED: { state: "failed", text: "failed", component: true },
  OUT_OF_MEMORY: { state: "out_of_memory", text: "ran out of memory", component: true },
  CANCELLED: { state: "cancelled", text: "cancelled", component: false },
  TIMEOUT: { state: "timeout", text: "reached its time limit", component: false },
  PREEMPTED: { state: "preempted", text: "preempted", component: false },
  NODE_FAIL: { state: "node_fail", text: "a node failed", component: false },
  BOOT_FAIL: { state: "boot_fail", text: "its nodes failed to boot", component: false },
  DEADLINE: { state: "deadline", text: "missed its deadline", component: false },
};

export const isEndState = (slurmState: string) => Object.hasOwn(END_REASONS, slurmState);

function liveState(queue: QueueEntry, summary: StatusSummary | null): string {
  if (summary?.state === "failed") return "failed";
  if (queue.state === "PENDING" || queue.state === "CONFIGURING") return "queued";
  if (queue.state === "COMPLETING") return "stopping";
  return summary?.state === "ready" ? "ready" : summary?.state === "stopped" ? "stopping" : "starting";
}

/** The status file's own account, for when SLURM has none (no accounting, forgotten by slurmctld). */
function statusFileReason(summary: StatusSummary | null): string | undefined {
  if (!summary || summary.state === "pending") return undefined;
  // TIMEOUT, CANCELLED, PREEMPTED or NODE_FAIL, read by the script from the cancelled steps' logs
  if (summary.endReason) return summary.endReason;
  return summary.state === "failed" ? "FAILED" : "UNKNOWN";
}

/** How a job that is not live any more ended: sacct, else squeue's final state, else the status file. */
export function endOf(
  queue: QueueEntry | undefined,
  accounting: AccountingEntry | undefined,
  summary: StatusSummary | null,
): JobEnd | null {
  let base: Pick<JobEnd, "slurmState" | "by" | "exitCode" | "source"> | undefined;
  // sacct may still say RUNNING for a moment after the job left the queue: only a final state counts
  if (accounting && isEndState(accounting.state))
    base = {
      slurmState: accounting.state,
      by: accounting.by ?? null,
      exitCode: accounting.exitCode || null,
      source: "sacct",
    };
  else if (queue && isEndState(queue.state))
    base = { slurmState: queue.state, by: null, exitCode: queue.exitCode ?? null, source: "squeue" };
  else {
    const reason = statusFileReason(summary);
    if (reason) base = { slurmState: reason, by: null, exitCode: null, source: "status-file" };
  }
  if (!base) return null;
  const failed = END_REASONS[base.slurmState]?.component ? summary?.failed : undefined;
  return { ...base, component: failed?.component ?? null, message: failed?.message ?? null };
}

function endedState(end: JobEnd, summary: StatusSummary | null): string {
  const known = END_REASONS[end.slurmState];
  if (known) return known.state;
  return summary?.state === "stopped" ? "stopped" : "ended";
}

export function combine(
  target: Target,
  queue: QueueEntry | undefined,
  accounting: AccountingEntry | undefined,
  summary: StatusSummary | null,
): Observation {
  const live = queue !== undefined && !isEndState(queue.state);
  const end = target.jobId && !live ? endOf(queue, accounting, summary) : null;
  let state: string;
  if (!target.jobId) state = "not_submitted";
  else if (queue && live) state = liveState(queue, summary);
  else if (end) state = endedState(end, summary);
  else state = "unknown";
  // A job SLURM ended from outside (scancel, time limit, …) is never a component failure, even when
  // a step that exited on the cancel signal was recorded as one.
  const failed = summary?.failed && (live || end?.component) ? summary.failed : null;
  const attribution = attributionOf(target, summary, failed, end);
  return {
    jobId: target.jobId ?? null,
    runDir: target.deployment?.runDir ?? null,
    name: target.deployment?.name ?? queue?.name ?? null,
    queue: queue ?? null,
    accounting: accounting ?? null,
    state,
    live,
    // A URL is live only while the job runs; afterwards it is history (lastUrl).
    url: live ? (summary?.url ?? null) : null,
    lastUrl: summary?.url ?? null,
    roles: rolesOf(target.deployment, summary),
    components: componentsOf(target.deployment, summary),
    failed,
    end,
    attribution,
    summary,
  };
}

/** SLURM ended the job because of a node: infrastructure whatever the steps said as they died. */
const NODE_ENDS = new Set(["NODE_FAIL", "BOOT_FAIL"]);

/**
 * The attribution of a failed job: the component the status file names (or SLURM, for a lost node),
 * its node from plan.json and the node events, and the last lines of its log (the process's own
 * log, else the batch log for dyn's own steps), classified by core's ATTRIBUTION_RULES.
 */
export function attributionOf(
  target: Target,
  summary: StatusSummary | null,
  failed: StatusSummary["failed"] | null,
  end: JobEnd | null,
): FailureAttribution | null {
  const nodeEnd = end && NODE_ENDS.has(end.slurmState) ? end.slurmState : undefined;
  const first =
    failed ??
    (nodeEnd ? (summary?.failed ?? { component: "slurm", message: endSentence(end as JobEnd) }) : null);
  if (!first) return null;
  const d = target.deployment;
  const steps = d?.plan?.processes ?? [];
  const log = d ? (logOfComponent(d, first.component) ?? batchLog(d, target.jobId)) : undefined;
  const text = log ? readTail(log, ATTRIBUTION_LOG_LINES) : undefined;
  const a = attributeFailure({
    failed: first,
    node: nodeOfStep(first.component, steps, summary?.nodes ?? []),
    logTail: text ? text.split("\n") : [],
    endReason: nodeEnd ?? end?.slurmState ?? summary?.endReason,
  });
  return { ...a, log: log && d && text !== undefined ? relative(d.runDir, log) : null };
}

function batchLog(d: Deployment, jobId: string | undefined): string | undefined {
  const spec = d.plan?.spec;
  if (!spec || !jobId) return undefined;
  return batchLogPath(d.runDir, spec.slurm.output, jobId, spec.slurm.jobName, undefined);
}

/** SLURM's word on when the job was submitted and started (epoch seconds), for the timeline. */
export interface QueueTimes {
  readonly submit: number | null;
  readonly start: number | null;
  readonly source: "sacct" | "squeue";
}

/** sacct/squeue time ("2026-12-02T03:21:49", the cluster's local time; "Unknown", "N/A", "None") → epoch s. */
export function slurmTime(text: string | undefined): number | null {
  if (!text || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(text.trim())) return null;
  const ms = new Date(text.trim()).getTime();
  return Number.isNaN(ms) ? null : ms / 1000;
}

/** "id|submit|start" lines (sacct -P -o JobID,Submit,Start; squeue -o %i|%V|%S) → id → times. */
export function parseQueueTimes(stdout: string, source: QueueTimes["source"]): Map<string, QueueTimes> {
  const out = new Map<string, QueueTimes>();
  for (const line of stdout.split("\n")) {
    const [raw = "", submit, start] = line.trim().split("|");
    if (!raw || raw.includes(".")) continue;
    // A heterogeneous job (`<leader>+<offset>`): its components start together; the leader's line.
    const het = hetComponent(raw);
    if (het && het.offset > 0) continue;
    const id = het ? het.jobId : raw;
    out.set(id, { submit: slurmTime(submit), start: slurmTime(start), source });
  }
  return out;
}

/**
 * Submit and start times from SLURM: one sacct call for all jobs, then one squeue call for the
 * ones sacct does not know (no accounting; squeue has them while they are in the queue).
 */
export async function queueTimes(slurm: Slurm, jobIds: readonly string[]): Promise<Map<string, QueueTimes>> {
  if (jobIds.length === 0) return new Map();
  const acct = await slurm.probe(
    "sacct",
    ["-n", "-X", "-P", "-j", jobIds.join(","), "-o", "JobID,Submit,Start"],
    {
      timeoutMs: 10_000,
    },
  );
  const out = acct.code === 0 ? parseQueueTimes(acct.stdout, "sacct") : new Map<string, QueueTimes>();
  const rest = jobIds.filter((id) => !out.get(id)?.submit);
  if (rest.length > 0) {
    const q = await slurm.probe("squeue", ["-h", "-j", rest.join(","), "-o", "%i|%V|%S"], {
      timeoutMs: 30_000,
    });
    if (q.code === 0) for (const [id, t] of parseQueueTimes(q.stdout, "squeue")) if (t.submit) out.set(id, t);
  }
  return out;
}

/** When every instance had registered: the readiness watcher writes logs/instances.json at that moment. */
function registeredAt(runDir: string): number | null {
  try {
    return runFs().stat(join(runDir, "logs", "instances.json")).mtimeMs / 1000;
  } catch {
    return null;
  }
}

/** When the readiness watcher first saw each instance (logs/registrations.json; absent before READY). */
function registrations(runDir: string): Registration[] {
  try {
    const raw: unknown = JSON.parse(runFs().readText(join(runDir, "logs", "registrations.json")));
    if (!Array.isArray(raw)) return [];
    return raw.filter(
      (r): r is Registration =>
        typeof r?.component === "string" &&
        typeof r?.instance === "string" &&
        typeof r?.host === "string" &&
        typeof r?.t === "number",
    );
  } catch {
    return [];
  }
}

/** The timeline of one deployment (core's computeTimeline) from its files and, when given, SLURM's times. */
export function timelineOf(
  o: Observation,
  deployment: Deployment | undefined,
  slurmTimes?: QueueTimes,
): Timeline | null {
  if (!o.summary || !deployment) return null;
  const submitted = deployment.job?.submittedAt ? Date.parse(deployment.job.submittedAt) / 1000 : Number.NaN;
  const queue: TimelineInput["queue"] = slurmTimes?.submit
    ? slurmTimes
    : Number.isNaN(submitted)
      ? undefined
      : { submit: submitted, start: null, source: "dyn" };
  return computeTimeline({
    events: o.summary.events,
    steps: deployment.plan?.processes,
    expected: deployment.plan?.expected,
    queue,
    registeredAt: o.summary.state === "pending" ? null : registeredAt(deployment.runDir),
    registrations: registrations(deployment.runDir),
  });
}

/**
 * One squeue call for all targets (live jobs, and the final state of those slurmctld still
 * remembers), then one sacct call for every job that is not live any more.
 */
export async function observe(slurm: Slurm, targets: readonly Target[]): Promise<Observation[]> {
  const ids = [...new Set(targets.map((t) => t.jobId).filter((id): id is string => id !== undefined))];
  const queue = await slurm.queue(ids, { ended: true });
  const ended = ids.filter((id) => {
    const q = queue.get(id);
    return q === undefined || isEndState(q.state);
  });
  const accounting = ended.length > 0 ? await slurm.accounting(ended) : new Map<string, AccountingEntry>();
  return targets.map((t) =>
    combine(
      t,
      t.jobId ? queue.get(t.jobId) : undefined,
      t.jobId ? accounting.get(t.jobId) : undefined,
      t.deployment ? readSummary(t.deployment.runDir) : null,
    ),
  );
}

export const isActive = (o: Observation) => o.live;

/** A status file failure as --json prints it: `code` always present (null: no process exit code). */
export function failedJson(failed: { component: string; message: string; code?: number } | null | undefined) {
  return failed ? { component: failed.component, message: failed.message, code: failed.code ?? null } : null;
}

/** "cancelled by alice", "timeout", "failed: decode-w0", "failed (exit 2:0)": one phrase for tables. */
export function endText(end: JobEnd): string {
  const state = END_REASONS[end.slurmState]?.state ?? end.slurmState.toLowerCase();
  if (end.by) return `${state} by ${end.by}`;
  if (end.component) return `${state}: ${end.component}`;
  if (end.slurmState === "FAILED" && end.exitCode) return `${state} (exit ${end.exitCode})`;
  return state;
}

/** One sentence: "TIMEOUT: reached its time limit (exit code 0:0; sacct)". */
export function endSentence(end: JobEnd): string {
  const what = END_REASONS[end.slurmState]?.text ?? "ended, and nothing says why";
  const by = end.by ? ` by ${end.by}` : "";
  const component = end.component ? `: ${end.component}: ${end.message ?? "failed"}` : "";
  const exit = end.exitCode ? `exit code ${end.exitCode}; ` : "";
  return `${end.slurmState}: ${what}${by}${component} (${exit}${end.source})`;
}

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
    return tail(runFs().readText(path), lines);
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
