/**
 * Time to ready, phase by phase, from the status file's timestamps (the events the rendered script
 * writes, in order: job-started, node (one per node, after the node-setup srun), container-ready
 * (pyxis preload), preflight-ok, started (one per step: etcd and NATS first), infra-up, started (the
 * services), progress (registration counts), smoke, ready), the queue wait SLURM reports, and the
 * moment the readiness watcher saw every instance (logs/instances.json is written then). Pure: the
 * CLI reads the files and SLURM, this computes.
 *
 * dyn's own overhead is what docs/benchmarks.md measures pairwise against a hand-written script
 * that starts the same processes at once with no checks: here, per job, the phases only dyn has —
 * node setup, the network preflight, waiting for etcd/NATS before any worker starts, the token gate
 * and noticing readiness. Queue, container import, the processes' own start-up and registration
 * are in both and not counted.
 */
import type { StepPlacement } from "./attribution.js";
import { lastAttempt } from "./attribution.js";
import type { StatusEvent } from "./status.js";

export type PhaseId =
  | "queue"
  | "batch-start"
  | "node-setup"
  | "container"
  | "preflight"
  | "infra"
  | "launch"
  | "register"
  | "smoke"
  | "ready";

/** Each phase: what it is and whether it counts in dyn's own overhead (docs/benchmarks.md). */
export const PHASES: Readonly<Record<PhaseId, { readonly label: string; readonly overhead: boolean }>> = {
  queue: { label: "queue wait (submit → SLURM start)", overhead: false },
  "batch-start": { label: "batch script start (prolog, first line)", overhead: false },
  "node-setup": { label: "node setup (IPs, model cache, port window)", overhead: true },
  container: { label: "container import (pyxis, every node)", overhead: false },
  preflight: { label: "network preflight", overhead: true },
  infra: { label: "etcd and NATS up", overhead: true },
  launch: { label: "processes launched", overhead: false },
  register: { label: "launched → every instance registered", overhead: false },
  smoke: { label: "token gate (first request answered)", overhead: true },
  ready: { label: "READY noticed", overhead: true },
};

export interface TimelineInput {
  readonly events: readonly StatusEvent[];
  /** plan.json's steps: which role and node each step is (optional: without, steps are ids only). */
  readonly steps?: readonly StepPlacement[] | undefined;
  /** plan.json's expected: component → instances that must register. */
  readonly expected?: Readonly<Record<string, number>> | undefined;
  /** Queue times in epoch seconds: SLURM's submit and start (sacct/squeue), else dyn's own submit record. */
  readonly queue?:
    | {
        readonly submit: number | null;
        readonly start: number | null;
        readonly source: "sacct" | "squeue" | "dyn";
      }
    | undefined;
  /** Epoch seconds when every expected instance was registered (logs/instances.json's mtime). */
  readonly registeredAt?: number | null | undefined;
  /**
   * When the readiness watcher first saw each instance at /health (logs/registrations.json): its
   * component, instance id, the host address its transport names, and epoch seconds.
   */
  readonly registrations?: readonly Registration[] | undefined;
}

export interface Registration {
  readonly component: string;
  readonly instance: string;
  readonly host: string;
  readonly t: number;
}

export interface TimelinePhase {
  readonly id: PhaseId;
  readonly label: string;
  /** Epoch seconds. */
  readonly start: number;
  readonly end: number;
  readonly seconds: number;
  readonly overhead: boolean;
  /** The phase did not finish: the job failed during it (its end is the failure). */
  readonly failed: boolean;
  /** What the data says was slowest in this phase, when it says. */
  readonly slowest: string | null;
}

export interface TimelineProcess {
  readonly step: string;
  readonly role: string;
  readonly node: string | null;
  /** Seconds from job-started to the step's launch (its `started` event). */
  readonly launched: number;
  /**
   * Seconds from job-started to its registration: the instance of its component first seen on its
   * node (`source: "instance"`, from logs/registrations.json), else when its component had every
   * instance (`source: "component"`, an upper bound). Null while unregistered.
   */
  readonly registered: number | null;
  readonly source: "instance" | "component" | null;
  /** The instance id matched to this process, when `source` is "instance". */
  readonly instance: string | null;
}

export interface TimelineNode {
  readonly index: number;
  readonly name: string;
  /** Seconds from job-started to when node setup began and ended on this node (its own clock). */
  readonly setupStart: number | null;
  readonly setupEnd: number | null;
}

export interface Timeline {
  /** Epoch seconds of the first known moment: the submit, else job-started. */
  readonly origin: number;
  readonly jobStarted: number;
  readonly outcome: "ready" | "failed" | "starting";
  readonly phases: readonly TimelinePhase[];
  readonly processes: readonly TimelineProcess[];
  /** Per node, its node setup (from the `node` events). */
  readonly nodes: readonly TimelineNode[];
  /**
   * The slowest process from launch to registered: one step when per-instance registration times
   * are known, else the component that completed last and its steps.
   */
  readonly slowestProcess: {
    readonly component: string;
    readonly steps: readonly string[];
    readonly seconds: number;
  } | null;
  /** The node of the slowest process, when those steps share one node. */
  readonly slowestNode: string | null;
  /** The node whose setup ended last, and when (seconds from job-started). */
  readonly slowestSetup: { readonly node: string; readonly seconds: number } | null;
  /** Seconds from submit (or job-started) to READY. */
  readonly toReady: number | null;
  /** dyn's own overhead: the sum of the phases PHASES marks, and each one. */
  readonly overhead: { readonly seconds: number; readonly phases: Readonly<Record<string, number>> };
  readonly queueSource: "sacct" | "squeue" | "dyn" | null;
}

const round = (s: number) => Math.round(s * 1000) / 1000;

function parseCounts(text: unknown): Map<string, { have: number; want: number }> {
  const out = new Map<string, { have: number; want: number }>();
  for (const item of String(text ?? "").split(/\s+/)) {
    const m = /^(.+)=(\d+)\/(\d+)$/.exec(item);
    if (m) out.set(m[1] as string, { have: Number(m[2]), want: Number(m[3]) });
  }
  return out;
}

/** component → epoch seconds when it first had every instance, from the progress events. */
function completions(events: readonly StatusEvent[], registeredAt: number | undefined): Map<string, number> {
  const done = new Map<string, number>();
  let all: string[] = [];
  for (const e of events) {
    if (e.event !== "progress" && e.event !== "ready") continue;
    const counts = parseCounts(e.registered);
    all = [...new Set([...all, ...counts.keys()])];
    for (const [c, n] of counts) if (n.have >= n.want && !done.has(c)) done.set(c, e.t);
  }
  // The watcher exits as soon as every count is met, usually before the loop emits that progress:
  // instances.json's time is then when the last components completed.
  if (registeredAt !== undefined)
    for (const c of all)
      if ((done.get(c) ?? Number.POSITIVE_INFINITY) > registeredAt) done.set(c, registeredAt);
  return done;
}

const isInfraId = (id: string, steps: readonly StepPlacement[] | undefined) => {
  const role = steps?.find((s) => s.id === id)?.role;
  return role ? role === "etcd" || role === "nats" : id === "etcd" || id === "nats";
};

export function computeTimeline(input: TimelineInput): Timeline | null {
  const events = lastAttempt(input.events);
  const started = events.find((e) => e.event === "job-started");
  if (!started) return null;
  const last = (name: string) => events.filter((e) => e.event === name).at(-1)?.t;
  const failedAt = events.find((e) => e.event === "failed")?.t;
  const ready = last("ready");
  const launchedSteps = events.filter((e) => e.event === "started");
  const services = launchedSteps.filter((e) => !isInfraId(String(e.step), input.steps));
  const registeredAt = input.registeredAt ?? undefined;
  const done = completions(events, registeredAt);
  const smoke = last("smoke");
  const allRegistered =
    registeredAt ?? (done.size > 0 && ready !== undefined ? Math.max(...done.values()) : undefined);
  const q = input.queue;
  const submit = q?.submit ?? undefined;
  const origin = submit ?? started.t;
  const failedComponent = events.find((e) => e.event === "failed")?.component;
  const has = (name: string, component: string) =>
    events.some((e) => e.event === name) || failedComponent === component;
  // The boundaries in the script's order: [phase, its end, whether this job has the phase]. A phase
  // runs from the previous boundary to its own.
  const boundaries: Array<[PhaseId, number | undefined, boolean]> = [
    ["queue", q?.start ?? started.t, submit !== undefined],
    ["batch-start", started.t, submit !== undefined && q?.start != null],
    ["node-setup", last("node"), true],
    ["container", last("container-ready"), has("container-ready", "container-preload")],
    ["preflight", last("preflight-ok"), has("preflight-ok", "preflight")],
    ["infra", last("infra-up"), true],
    ["launch", services.at(-1)?.t, true],
    ["register", allRegistered, true],
    ["smoke", smoke, has("smoke", "smoke")],
    ["ready", ready, true],
  ];
  const phases: TimelinePhase[] = [];
  let from = origin;
  for (const [id, end, present] of boundaries) {
    if (!present) continue;
    if (end === undefined) {
      // The first phase without its end: the job failed in it, or is still in it.
      if (failedAt !== undefined && failedAt >= from) phases.push(phase(id, from, failedAt, true, null));
      break;
    }
    phases.push(phase(id, from, end, false, slowestIn(id, events, input, done, from)));
    from = end;
  }
  const matched = matchRegistrations(services, input.steps, events, input.registrations ?? []);
  const processes = services.map((e): TimelineProcess => {
    const step = input.steps?.find((s) => s.id === e.step);
    const comp = step?.registers ?? undefined;
    const own = matched.get(String(e.step));
    const at = own?.t ?? (comp ? done.get(comp) : undefined);
    return {
      step: String(e.step),
      role: step?.role ?? String(e.step).replace(/-w?\d+(-r\d+)?$/, ""),
      node: nodeName(step, events),
      launched: round(e.t - started.t),
      registered: at === undefined ? null : round(at - started.t),
      source: own ? "instance" : at === undefined ? null : "component",
      instance: own?.instance ?? null,
    };
  });
  const nodes = nodeSetups(events, started.t);
  const slowestSetup = nodes
    .filter((n) => n.setupEnd !== null)
    .sort((a, b) => (b.setupEnd as number) - (a.setupEnd as number))[0];
  const slow = slowestOwn(processes, input.steps) ?? slowestComponent(done, processes, input.steps);
  const overheadPhases: Record<string, number> = {};
  for (const p of phases) if (p.overhead && !p.failed) overheadPhases[p.id] = p.seconds;
  return {
    origin,
    jobStarted: started.t,
    outcome: ready !== undefined ? "ready" : failedAt !== undefined ? "failed" : "starting",
    phases,
    processes,
    nodes,
    slowestProcess: slow,
    slowestNode: slow ? sharedNode(slow.steps, processes) : null,
    slowestSetup: slowestSetup ? { node: slowestSetup.name, seconds: slowestSetup.setupEnd as number } : null,
    toReady: ready === undefined ? null : round(ready - origin),
    overhead: {
      seconds: round(Object.values(overheadPhases).reduce((a, b) => a + b, 0)),
      phases: overheadPhases,
    },
    queueSource: submit !== undefined && q ? q.source : null,
  };
}

function phase(
  id: PhaseId,
  start: number,
  end: number,
  failed: boolean,
  slowest: string | null,
): TimelinePhase {
  return {
    id,
    label: PHASES[id].label,
    start,
    end,
    seconds: round(Math.max(0, end - start)),
    overhead: PHASES[id].overhead,
    failed,
    slowest,
  };
}

function nodeName(step: StepPlacement | undefined, events: readonly StatusEvent[]): string | null {
  const index = step?.nodes[0];
  if (index === undefined) return null;
  const node = events.find((e) => e.event === "node" && Number(e.index) === index);
  return node ? String(node.name) : null;
}

/** What was slowest within a phase, where the events say. */
function slowestIn(
  id: PhaseId,
  events: readonly StatusEvent[],
  input: TimelineInput,
  done: ReadonlyMap<string, number>,
  from: number,
): string | null {
  if (id === "node-setup") {
    const taken = events.filter((e) => e.event === "port-window-taken");
    const windows =
      taken.length > 0
        ? `${taken.length} port window${taken.length > 1 ? "s" : ""} taken first: ${taken.map((e) => String(e.nodes)).join("; ")}`
        : null;
    const jobStarted = events.find((e) => e.event === "job-started")?.t ?? from;
    const last = nodeSetups(events, jobStarted)
      .filter((n) => n.setupStart !== null && n.setupEnd !== null)
      .sort((a, b) => (b.setupEnd as number) - (a.setupEnd as number))[0];
    const node = last
      ? `${last.name} done last: began +${last.setupStart} s, took ${round((last.setupEnd as number) - (last.setupStart as number))} s`
      : null;
    return [node, windows].filter(Boolean).join("; ") || null;
  }
  if (id === "register" && done.size > 0) {
    const [comp, t] = [...done].sort((a, b) => b[1] - a[1])[0] as [string, number];
    const roles = [...new Set((input.steps ?? []).filter((s) => s.registers === comp).map((s) => s.role))];
    return `${comp}${roles.length > 0 ? ` (${roles.join("+")})` : ""} complete last, ${round(t - from)} s after the last launch`;
  }
  if (id === "smoke") {
    const e = events.filter((x) => x.event === "smoke").at(-1);
    return e ? `first token after ${Number(e.ttft_ms)} ms, ${Number(e.tokens)} tokens` : null;
  }
  return null;
}

function slowestComponent(
  done: ReadonlyMap<string, number>,
  processes: readonly TimelineProcess[],
  steps: readonly StepPlacement[] | undefined,
): Timeline["slowestProcess"] {
  if (done.size === 0) return null;
  const [comp] = [...done].sort((a, b) => b[1] - a[1])[0] as [string, number];
  const ids = (steps ?? []).filter((s) => s.registers === comp).map((s) => s.id);
  const mine = processes.filter((p) => ids.includes(p.step));
  if (mine.length === 0) return { component: comp, steps: ids, seconds: 0 };
  const launched = Math.min(...mine.map((p) => p.launched));
  const at = (mine[0] as TimelineProcess).registered ?? launched;
  return { component: comp, steps: ids, seconds: round(at - launched) };
}

function sharedNode(stepIds: readonly string[], processes: readonly TimelineProcess[]): string | null {
  const nodes = new Set(processes.filter((p) => stepIds.includes(p.step)).map((p) => p.node));
  return nodes.size === 1 ? ([...nodes][0] ?? null) : null;
}

/** Each node's setup from its `node` event (setup_start/setup_end, epoch seconds from the node's clock). */
function nodeSetups(events: readonly StatusEvent[], jobStarted: number): TimelineNode[] {
  const at = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? round(v - jobStarted) : null);
  return events
    .filter((e) => e.event === "node")
    .map((e) => ({
      index: Number(e.index),
      name: String(e.name),
      setupStart: at(e.setup_start),
      setupEnd: at(e.setup_end),
    }));
}

/**
 * Step id → the instance registration that is its own: a component's instances first seen from a
 * node's address, handed to that component's steps on the node in launch order (the watcher only
 * knows the address, so two workers of one component on one node are told apart by order). A step
 * that does not register (a multi-node worker's non-leader rank, the frontend) gets none.
 */
function matchRegistrations(
  launched: readonly StatusEvent[],
  steps: readonly StepPlacement[] | undefined,
  events: readonly StatusEvent[],
  registrations: readonly Registration[],
): Map<string, Registration> {
  const out = new Map<string, Registration>();
  if (!steps || registrations.length === 0) return out;
  const ipOf = new Map<number, string>();
  for (const e of events) if (e.event === "node") ipOf.set(Number(e.index), String(e.ip));
  const pool = new Map<string, Registration[]>();
  for (const r of [...registrations].sort((a, b) => a.t - b.t)) {
    const key = `${r.component}@${r.host}`;
    pool.set(key, [...(pool.get(key) ?? []), r]);
  }
  for (const e of launched) {
    const step = steps.find((s) => s.id === e.step);
    const node = step?.nodes[0];
    if (!step?.registers || node === undefined) continue;
    const next = pool.get(`${step.registers}@${ipOf.get(node)}`)?.shift();
    if (next) out.set(step.id, next);
  }
  return out;
}

/** The process slowest from launch to its own registration, when registrations are known. */
function slowestOwn(
  processes: readonly TimelineProcess[],
  steps: readonly StepPlacement[] | undefined,
): Timeline["slowestProcess"] {
  const own = processes.filter((p) => p.source === "instance" && p.registered !== null);
  const slow = own.sort(
    (a, b) => (b.registered as number) - b.launched - ((a.registered as number) - a.launched),
  )[0];
  if (!slow) return null;
  return {
    component: steps?.find((s) => s.id === slow.step)?.registers ?? slow.role,
    steps: [slow.step],
    seconds: round((slow.registered as number) - slow.launched),
  };
}
