/**
 * One streamed request, timed: time to the first chunk carrying text (TTFT), the gaps between
 * successive text chunks (inter-token latency), the tokens generated (the server's
 * usage.completion_tokens, else the number of text chunks). Node's own fetch (undici); times come
 * from a monotonic clock in milliseconds.
 */
import { type Api, PATHS, readEvent, readWhole, type Usage } from "./openai.js";
import { SseParser } from "./sse.js";

export interface RequestResult {
  readonly ok: boolean;
  readonly error: string | null;
  /** Sent and finished, on the clock given. */
  readonly startMs: number;
  readonly endMs: number;
  readonly ttftMs: number | null;
  readonly itlMs: readonly number[];
  readonly outputTokens: number;
  readonly promptTokens: number | null;
}

export interface RequestOptions {
  readonly baseUrl: string;
  readonly api: Api;
  readonly body: unknown;
  readonly timeoutMs: number;
  /** Aborts the request (Ctrl-C). */
  readonly signal: AbortSignal;
  readonly clock: () => number;
}

const head = (s: string, n = 200) => {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > n ? `${one.slice(0, n)}…` : one;
};

/** A fetch failure in a few words: "fetch failed: ECONNREFUSED" (its cause's code, else message). */
export function fetchFailure(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e?.message ?? "fetch failed"}: ${cause}` : String(e?.message ?? err);
}

function failureText(err: unknown, timeoutMs: number, signal: AbortSignal): string {
  if (signal.aborted) return "interrupted";
  if ((err as { name?: string })?.name === "TimeoutError") return `timed out after ${timeoutMs / 1000} s`;
  return fetchFailure(err);
}

class Timing {
  ttft: number | null = null;
  last = 0;
  chunks = 0;
  readonly itl: number[] = [];
  usage: Usage | null = null;
  constructor(readonly start: number) {}
  text(at: number): void {
    if (this.ttft === null) this.ttft = at - this.start;
    else this.itl.push(at - this.last);
    this.last = at;
    this.chunks++;
  }
}

export async function sendRequest(o: RequestOptions): Promise<RequestResult> {
  const start = o.clock();
  const t = new Timing(start);
  const result = (error: string | null): RequestResult => {
    const outputTokens = t.usage?.completionTokens ?? t.chunks;
    const noTokens = error === null && (t.chunks === 0 || outputTokens === 0);
    return {
      ok: error === null && !noTokens,
      error: noTokens ? "answered with no tokens" : error,
      startMs: start,
      endMs: o.clock(),
      ttftMs: t.ttft,
      itlMs: t.itl,
      outputTokens: error === null ? outputTokens : 0,
      promptTokens: t.usage?.promptTokens ?? null,
    };
  };
  const signal = AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs)]);
  try {
    const res = await fetch(new URL(PATHS[o.api], o.baseUrl), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify(o.body),
      signal,
    });
    if (res.status !== 200) return result(`HTTP ${res.status}: ${head(await res.text())}`);
    const type = res.headers.get("content-type") ?? "";
    if (!type.includes("text/event-stream")) {
      // A server that ignored stream: true: one whole answer, its first token is its last.
      const whole = readWhole(await res.json(), o.api);
      if (whole.text !== "") t.text(o.clock());
      t.usage = whole.usage;
      return result(null);
    }
    return result(await readStream(res, o.api, t, o.clock));
  } catch (err) {
    return result(failureText(err, o.timeoutMs, o.signal));
  }
}

/**
 * Read the SSE body to its end; null when it carried `data: [DONE]` and no error, else what went
 * wrong. The body is read to its end after [DONE] too, so the connection is kept for the next request.
 */
async function readStream(res: Response, api: Api, t: Timing, clock: () => number): Promise<string | null> {
  if (!res.body) return "empty body";
  const parser = new SseParser();
  const decoder = new TextDecoder();
  let done = false;
  let error: string | null = null;
  const take = (data: string, at: number) => {
    if (done || error !== null) return;
    const e = readEvent(data, api);
    if (e.kind === "done") done = true;
    else if (e.kind === "error") error = `error in the stream: ${head(e.message)}`;
    else {
      if (e.text !== "") t.text(at);
      if (e.usage) t.usage = e.usage;
    }
  };
  for await (const bytes of res.body) {
    const at = clock(); // events of one read arrived together
    for (const data of parser.push(decoder.decode(bytes as Uint8Array, { stream: true }))) take(data, at);
  }
  for (const data of parser.end()) take(data, clock());
  return error ?? (done ? null : "the stream ended before data: [DONE]");
}
