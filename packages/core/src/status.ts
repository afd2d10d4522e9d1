/**
 * The job's status file (<runDir>/status.jsonl, one JSON event per line, written by the rendered
 * script) folded into one summary. Pure, so `dyn status`, `dyn deploy --wait` and tests share it.
 */
export interface StatusEvent {
  readonly t: number;
  readonly event: string;
  readonly [field: string]: unknown;
}

export type DeploymentState = "pending" | "starting" | "ready" | "failed" | "stopped";

export interface StatusSummary {
  readonly state: DeploymentState;
  readonly url: string | undefined;
  /** Latest "component=have/want …" readiness counts. */
  readonly registered: string | undefined;
  /** The first failure: the component, what happened, and its exit code when a process exited. */
  readonly failed:
    | { readonly component: string; readonly message: string; readonly code?: number }
    | undefined;
  readonly nodes: ReadonlyArray<{ index: number; name: string; ip: string }>;
  readonly started: readonly string[];
  readonly infraUp: boolean;
  /**
   * The port window the job claimed at run time (its first and last port), and the preferred one
   * (SLURM_JOB_ID mod ports.slots) when that was taken on some node.
   */
  readonly ports:
    | { readonly window: number; readonly base: number; readonly end: number; readonly preferred: number }
    | undefined;
  /** What SLURM says ended the job when it did (TIMEOUT, CANCELLED, PREEMPTED, NODE_FAIL), from the steps' logs. */
  readonly endReason: string | undefined;
  /** 1, or the attempt after SLURM requeued the job (the fields above describe this attempt only). */
  readonly attempt: number;
  /** How the attempt before this one ended, when the job was requeued. */
  readonly previous:
    | { readonly state: DeploymentState; readonly failed: StatusSummary["failed"] }
    | undefined;
  readonly events: readonly StatusEvent[];
}

export function parseStatusLines(text: string): StatusEvent[] {
  const events: StatusEvent[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const e = JSON.parse(line) as StatusEvent;
      if (typeof e.event === "string") events.push(e);
    } catch {
      // A line being written while we read it: the next poll sees it whole.
    }
  }
  return events;
}

export function summarizeStatus(events: readonly StatusEvent[]): StatusSummary {
  let state: DeploymentState = events.length > 0 ? "starting" : "pending";
  let url: string | undefined;
  let registered: string | undefined;
  let failed: StatusSummary["failed"];
  let infraUp = false;
  let nodes: Array<{ index: number; name: string; ip: string }> = [];
  let started: string[] = [];
  let attempt = 1;
  let endReason: string | undefined;
  let previous: StatusSummary["previous"];
  let ports: StatusSummary["ports"];
  for (const e of events) {
    switch (e.event) {
      case "job-started":
        if (Number(e.attempt ?? 1) > 1) {
          // A requeued attempt: what came before is history.
          previous = { state: state === "ready" || state === "starting" ? "stopped" : state, failed };
          attempt = Number(e.attempt);
          state = "starting";
          url = registered = failed = endReason = undefined;
          infraUp = false;
          ports = undefined;
          nodes = [];
          started = [];
        }
        break;
      case "node":
        nodes.push({ index: Number(e.index), name: String(e.name), ip: String(e.ip) });
        break;
      case "ports":
        ports = {
          window: Number(e.window),
          base: Number(e.base),
          end: Number(e.end),
          preferred: Number(e.preferred ?? e.window),
        };
        break;
      case "infra-up":
        infraUp = true;
        break;
      case "started":
        started.push(String(e.step));
        break;
      case "progress":
        registered = String(e.registered);
        break;
      case "ready":
        state = "ready";
        url = String(e.url);
        registered = String(e.registered ?? registered);
        break;
      case "failed":
        state = "failed";
        failed = {
          component: String(e.component),
          message: String(e.message),
          ...(typeof e.code === "number" ? { code: e.code } : {}),
        };
        break;
      case "stopped":
        if (state !== "failed") state = "stopped";
        break;
      case "ended":
        endReason = String(e.reason);
        break;
    }
  }
  return {
    state,
    url,
    registered,
    failed,
    nodes,
    started,
    infraUp,
    ports,
    endReason,
    attempt,
    previous,
    events,
  };
}
