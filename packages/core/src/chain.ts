/**
 * Keep-alive chains (spec.lifetime.keepAlive): one deployment served by a chain of jobs of the same
 * script, each attempt handing over to the next before its time limit. The job keeps the chain
 * itself (render/keepalive.ts); these are the file names it writes in the run directory and the pure
 * reading of its record, which `dyn status|logs|stop` share.
 */
export { slurmTimeSeconds } from "./spec-forms.js";

export const CHAIN_FILES = {
  /** One JSON line per chain event: {t, attempt, job, event: started|submitted|ready|handed-over|refused, …}. */
  chain: "chain.jsonl",
  /** The URL of the attempt that is serving, replaced atomically (temp + mv) by each attempt at READY. */
  currentUrl: "current-url",
  /** Written by `dyn stop`: no attempt submits a successor, and a successor that starts exits at once. */
  stop: "chain.stop",
  /** Attempt n ≥ 2 keeps its status file and logs in attempts/<n>/ (attempt 1 where a lone job does). */
  attempts: "attempts",
} as const;

/** The directory of attempt `n`, relative to the run directory ("" for the first). */
export function attemptDir(n: number): string {
  return n <= 1 ? "" : `${CHAIN_FILES.attempts}/${n}`;
}

export interface ChainAttempt {
  readonly attempt: number;
  /** The attempt's job id (from its own "started" record, else the predecessor's "submitted"). */
  readonly jobId: string | null;
  /** The job that submitted it (null for the first attempt, submitted by dyn deploy). */
  readonly submittedBy: string | null;
  /** The URL it served at READY. */
  readonly url: string | null;
  /** It drained after its successor was READY (overlap), or handed over at its time limit (queue). */
  readonly handedOver: boolean;
  /** Why the chain did not go on after it (a stop marker, maxAttempts, maxFailures), if it said. */
  readonly refused: string | null;
}

interface ChainEvent {
  readonly attempt?: unknown;
  readonly job?: unknown;
  readonly event?: unknown;
  readonly url?: unknown;
  readonly by?: unknown;
  readonly why?: unknown;
}

/**
 * chain.jsonl → attempts in order. `firstJob` (job.json's id) names attempt 1 before its first
 * record is written. Lines being written (not JSON yet) are skipped.
 */
export function parseChain(text: string, firstJob?: string): ChainAttempt[] {
  const by = new Map<number, { -readonly [K in keyof ChainAttempt]: ChainAttempt[K] }>();
  const get = (n: number) => {
    let a = by.get(n);
    if (!a) {
      a = { attempt: n, jobId: null, submittedBy: null, url: null, handedOver: false, refused: null };
      by.set(n, a);
    }
    return a;
  };
  if (firstJob) get(1).jobId = firstJob;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let e: ChainEvent;
    try {
      e = JSON.parse(line) as ChainEvent;
    } catch {
      continue;
    }
    const n = Number(e.attempt);
    if (!Number.isInteger(n) || n < 1) continue;
    const a = get(n);
    const job = typeof e.job === "string" || typeof e.job === "number" ? String(e.job) : null;
    switch (e.event) {
      case "started":
        if (job) a.jobId = job;
        break;
      case "submitted":
        if (job) a.jobId = a.jobId ?? job;
        if (e.by !== undefined) a.submittedBy = String(e.by);
        break;
      case "ready":
        if (typeof e.url === "string") a.url = e.url;
        break;
      case "handed-over":
        a.handedOver = true;
        break;
      case "refused":
        a.refused = typeof e.why === "string" ? e.why : "refused";
        break;
    }
  }
  return [...by.values()].sort((x, y) => x.attempt - y.attempt);
}
