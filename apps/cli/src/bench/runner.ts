/**
 * The load: one step keeps `concurrency` requests in flight (closed loop: each worker sends its next
 * request when the last one finished) until the step's request count has been sent or its duration
 * has passed; requests in flight at the deadline finish and count. A sweep runs the steps in order.
 */
import type { RequestResult } from "./client.js";

export interface StepLimit {
  /** Requests sent in the step, or null with a duration. */
  readonly requests: number | null;
  /** Milliseconds during which new requests are sent, or null with a request count. */
  readonly durationMs: number | null;
}

export interface StepProgress {
  readonly concurrency: number;
  readonly done: number;
  readonly errors: number;
  readonly elapsedMs: number;
}

export interface StepRun {
  readonly concurrency: number;
  readonly results: readonly RequestResult[];
  /** Prompt indices the step used (the next step starts after them). */
  readonly sent: number;
  readonly startMs: number;
  readonly endMs: number;
  /** Stopped early by the signal (Ctrl-C): the results are the requests that had finished. */
  readonly interrupted: boolean;
}

/**
 * Run one step. `send(i)` sends request `i` (its prompt index in the sweep: `firstIndex`,
 * `firstIndex + 1`, …) and never throws; `onProgress` is called after every finished request.
 */
export async function runStep(o: {
  readonly concurrency: number;
  readonly limit: StepLimit;
  readonly firstIndex: number;
  readonly send: (index: number) => Promise<RequestResult>;
  readonly clock: () => number;
  readonly signal: AbortSignal;
  readonly onProgress?: (p: StepProgress) => void;
}): Promise<StepRun> {
  const startMs = o.clock();
  const results: RequestResult[] = [];
  let claimed = 0;
  let errors = 0;
  const more = () =>
    !o.signal.aborted &&
    (o.limit.requests !== null
      ? claimed < o.limit.requests
      : o.clock() - startMs < (o.limit.durationMs ?? 0));
  const worker = async () => {
    while (more()) {
      const index = o.firstIndex + claimed++;
      const r = await o.send(index);
      if (o.signal.aborted && r.error === "interrupted") break;
      results.push(r);
      if (!r.ok) errors++;
      o.onProgress?.({
        concurrency: o.concurrency,
        done: results.length,
        errors,
        elapsedMs: o.clock() - startMs,
      });
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const endMs = results.reduce((m, r) => Math.max(m, r.endMs), startMs);
  return {
    concurrency: o.concurrency,
    results,
    sent: claimed,
    startMs,
    endMs,
    interrupted: o.signal.aborted,
  };
}
