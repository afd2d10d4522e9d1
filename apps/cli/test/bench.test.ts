/** The pure parts of `dyn bench`: percentiles, prompts, SSE, OpenAI chunks, step summaries, CSV, SVG. */
import { describe, expect, it } from "vitest";
import { niceCeil, renderChart, tickLabel, ticks, xmlEscape } from "../src/bench/chart.js";
import type { RequestResult } from "../src/bench/client.js";
import { readEvent, readWhole, requestBody } from "../src/bench/openai.js";
import { concurrencyFlag, parseBenchOptions, secondsFlag, urlFlag, wholeFlag } from "../src/bench/options.js";
import { mulberry32, synthPrompt, WORDS } from "../src/bench/prompt.js";
import { bar, csvField, fmt, progressText, renderCsv, tableRows } from "../src/bench/render.js";
import { errorKinds, type StepResult, stepResult } from "../src/bench/results.js";
import { runStep } from "../src/bench/runner.js";
import { SseParser } from "../src/bench/sse.js";
import { percentile, summarize } from "../src/bench/stats.js";

describe("percentile", () => {
  it("interpolates linearly between the closest ranks (NumPy's default)", () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5.5);
    expect(percentile(xs, 90)).toBeCloseTo(9.1, 10);
    expect(percentile(xs, 99)).toBeCloseTo(9.91, 10);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });

  it("summarize sorts, rounds to three decimals and counts", () => {
    expect(summarize([3, 1, 2])).toEqual({ count: 3, mean: 2, p50: 2, p90: 2.8, p99: 2.98 });
    expect(summarize([1 / 3])).toMatchObject({ mean: 0.333, p50: 0.333 });
    expect(summarize([])).toEqual({ count: 0, mean: null, p50: null, p90: null, p99: null });
  });
});

describe("prompts", () => {
  it("are the asked number of words from the table, the same for the same seed and index", () => {
    const p = synthPrompt(7, 3, 64);
    expect(p.split(" ")).toHaveLength(64);
    for (const w of p.split(" ")) expect(WORDS).toContain(w);
    expect(synthPrompt(7, 3, 64)).toBe(p);
    expect(synthPrompt(7, 4, 64)).not.toBe(p);
    expect(synthPrompt(8, 3, 64)).not.toBe(p);
    // a longer prompt of the same request starts like the shorter one
    expect(synthPrompt(7, 3, 80).startsWith(p)).toBe(true);
  });

  it("the PRNG is mulberry32 (fixed sequence for a seed, values in [0, 1))", () => {
    const a = mulberry32(1);
    const seq = [a(), a(), a()];
    const b = mulberry32(1);
    expect([b(), b(), b()]).toEqual(seq);
    expect(seq[0]).toBeCloseTo(0.6270739405881613, 12);
    for (const v of seq) expect(v >= 0 && v < 1).toBe(true);
  });

  it("prompts of different requests differ from the first word on (no shared prefix to cache)", () => {
    const firsts = new Set(Array.from({ length: 50 }, (_, i) => synthPrompt(0, i, 8)));
    expect(firsts.size).toBe(50);
  });
});

describe("SSE parsing", () => {
  it("returns the data of each event, across chunk boundaries and line endings", () => {
    const p = new SseParser();
    expect(p.push('data: {"a":1}\n')).toEqual([]);
    expect(p.push("\ndata: x")).toEqual(['{"a":1}']);
    expect(p.push("y\r")).toEqual([]);
    expect(p.push("\n\r\n")).toEqual(["xy"]);
    expect(p.push(": a comment\nevent: ping\ndata:no-space\n\n")).toEqual(["no-space"]);
    // the last CR may be half a CRLF: the blank line it ends is known at the next chunk or the end
    expect(p.push("data: line1\ndata: line2\n\ndata: [DONE]\r\r")).toEqual(["line1\nline2"]);
    expect(p.end()).toEqual(["[DONE]"]);
  });

  it("drops an event the body ended without its blank line; an id-only event dispatches nothing", () => {
    const p = new SseParser();
    expect(p.push("id: 1\n\ndata: partial")).toEqual([]);
    expect(p.end()).toEqual([]);
    const q = new SseParser();
    expect(q.push("data: a\n\r")).toEqual([]);
    expect(q.end()).toEqual(["a"]);
  });

  it("keeps the space after 'data:' only once", () => {
    const p = new SseParser();
    expect(p.push("data:  two spaces\n\n")).toEqual([" two spaces"]);
  });
});

describe("OpenAI chunks", () => {
  it("reads chat deltas, completion text, finish reasons, usage, errors and [DONE]", () => {
    expect(readEvent("[DONE]", "chat")).toEqual({ kind: "done" });
    const role = JSON.stringify({ choices: [{ index: 0, delta: { role: "assistant", content: "" } }] });
    expect(readEvent(role, "chat")).toEqual({ kind: "chunk", text: "", finishReason: null, usage: null });
    const tok = JSON.stringify({
      choices: [{ delta: { content: " hi" }, finish_reason: null }],
      usage: null,
    });
    expect(readEvent(tok, "chat")).toMatchObject({ text: " hi", usage: null });
    const last = JSON.stringify({ choices: [{ text: " end", finish_reason: "length" }] });
    expect(readEvent(last, "completions")).toMatchObject({ text: " end", finishReason: "length" });
    const usage = JSON.stringify({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 4 } });
    expect(readEvent(usage, "chat")).toMatchObject({
      text: "",
      usage: { promptTokens: 12, completionTokens: 4 },
    });
    expect(readEvent(JSON.stringify({ error: { message: "overloaded" } }), "chat")).toEqual({
      kind: "error",
      message: "overloaded",
    });
    expect(readEvent("{oops", "chat")).toEqual({ kind: "error", message: "not JSON: {oops" });
  });

  it("a whole answer (a server that ignored stream) gives its text and usage", () => {
    const body = { choices: [{ message: { content: "abc" } }], usage: { completion_tokens: 3 } };
    expect(readWhole(body, "chat")).toEqual({
      text: "abc",
      usage: { promptTokens: null, completionTokens: 3 },
    });
    expect(readWhole({ choices: [{ text: "t" }] }, "completions")).toEqual({ text: "t", usage: null });
  });

  it("request bodies stream with usage, generate exactly max_tokens, per API", () => {
    expect(requestBody("chat", "m", "p q", 8)).toEqual({
      model: "m",
      max_tokens: 8,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "p q" }],
    });
    expect(requestBody("completions", "m", "p", 2)).toMatchObject({ prompt: "p", max_tokens: 2 });
    expect(requestBody("completions", "m", "p", 2)).not.toHaveProperty("messages");
  });
});

const req = (o: Partial<RequestResult> = {}): RequestResult => ({
  ok: true,
  error: null,
  startMs: 0,
  endMs: 100,
  ttftMs: 10,
  itlMs: [5, 5],
  outputTokens: 3,
  promptTokens: 20,
  ...o,
});

describe("a step's summary", () => {
  it("percentiles over answered requests, ITL pooled, rates over the step's wall time", () => {
    const s = stepResult({
      concurrency: 2,
      sent: 4,
      startMs: 1000,
      endMs: 3000,
      interrupted: false,
      results: [
        req({ startMs: 1000, endMs: 1500, ttftMs: 10, itlMs: [20, 22] }),
        req({ startMs: 1000, endMs: 2000, ttftMs: 30, itlMs: [24] }),
        req({ startMs: 1500, endMs: 3000, ttftMs: 20, itlMs: [], outputTokens: 4, promptTokens: null }),
        req({ ok: false, error: "HTTP 503: busy", ttftMs: null, itlMs: [], outputTokens: 0 }),
      ],
    });
    expect(s).toMatchObject({ concurrency: 2, requests: 4, answered: 3, errors: 1, durationS: 2 });
    expect(s.ttftMs).toEqual({ count: 3, mean: 20, p50: 20, p90: 28, p99: 29.8 });
    expect(s.itlMs).toMatchObject({ count: 3, p50: 22 });
    expect(s.latencyMs).toMatchObject({ p50: 1000 });
    expect(s.outputTokens).toBe(10);
    expect(s.outputTokensPerS).toBe(5);
    expect(s.requestsPerS).toBe(1.5);
    expect(s.inputTokensMean).toBe(20);
    expect(s.errorKinds).toEqual([{ message: "HTTP 503: busy", count: 1 }]);
  });

  it("a step with no answer has no percentiles and zero rates", () => {
    const s = stepResult({
      concurrency: 1,
      sent: 1,
      startMs: 0,
      endMs: 0,
      interrupted: false,
      results: [req({ ok: false, error: "x", ttftMs: null, itlMs: [], outputTokens: 0 })],
    });
    expect(s).toMatchObject({
      answered: 0,
      errors: 1,
      outputTokensPerS: 0,
      requestsPerS: 0,
      inputTokensMean: null,
    });
    expect(s.ttftMs.p50).toBeNull();
  });

  it("error kinds: most frequent first, at most five", () => {
    const bad = (e: string) => req({ ok: false, error: e });
    const rs = ["a", "b", "b", "c", "d", "e", "f", "f", "f"].map(bad);
    expect(errorKinds(rs).map((k) => `${k.message}${k.count}`)).toEqual(["f3", "b2", "a1", "c1", "d1"]);
  });
});

describe("runStep", () => {
  const clockOf = () => {
    let t = 0;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it("keeps `concurrency` requests in flight and sends exactly the request count, prompt indices in order", async () => {
    let inFlight = 0;
    let peak = 0;
    const indices: number[] = [];
    const c = clockOf();
    const run = await runStep({
      concurrency: 3,
      limit: { requests: 10, durationMs: null },
      firstIndex: 100,
      clock: c.now,
      signal: new AbortController().signal,
      send: async (i) => {
        indices.push(i);
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        return req();
      },
    });
    expect(run.results).toHaveLength(10);
    expect(run.sent).toBe(10);
    expect(peak).toBe(3);
    expect(indices).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
  });

  it("with a duration sends until it has passed; requests in flight then finish and count", async () => {
    const c = clockOf();
    const sentAt: number[] = [];
    const run = await runStep({
      concurrency: 2,
      limit: { requests: null, durationMs: 50 },
      firstIndex: 0,
      clock: c.now,
      signal: new AbortController().signal,
      send: async () => {
        sentAt.push(c.now());
        await Promise.resolve();
        const start = c.now();
        c.advance(10);
        return req({ startMs: start, endMs: c.now() });
      },
    });
    expect(sentAt.length).toBeGreaterThanOrEqual(4);
    for (const t of sentAt) expect(t).toBeLessThan(50);
    expect(run.results).toHaveLength(sentAt.length);
    expect(run.endMs).toBeGreaterThanOrEqual(50); // the last ones finished after the deadline
  });

  it("stops when the signal aborts, dropping the interrupted requests", async () => {
    const ac = new AbortController();
    let n = 0;
    const run = await runStep({
      concurrency: 1,
      limit: { requests: 100, durationMs: null },
      firstIndex: 0,
      clock: () => 0,
      signal: ac.signal,
      send: async () => {
        if (++n === 3) {
          ac.abort();
          return req({ ok: false, error: "interrupted" });
        }
        return req();
      },
    });
    expect(run.results).toHaveLength(2);
    expect(run.interrupted).toBe(true);
  });
});

const step = (o: Partial<StepResult> = {}): StepResult => ({
  concurrency: 1,
  requests: 4,
  answered: 4,
  errors: 0,
  durationS: 2,
  ttftMs: { count: 4, mean: 25, p50: 24.5, p90: 30, p99: 31.25 },
  itlMs: { count: 40, mean: 20, p50: 20.125, p90: 22, p99: 29 },
  latencyMs: { count: 4, mean: 300, p50: 300, p90: 310, p99: 320 },
  outputTokens: 40,
  outputTokensPerS: 20,
  requestsPerS: 2,
  inputTokensMean: 1030,
  errorKinds: [],
  interrupted: false,
  ...o,
});

describe("CSV", () => {
  it("one header and one CRLF row per step; nulls empty; fields quoted when needed", () => {
    const csv = renderCsv([
      step(),
      step({ concurrency: 4, ttftMs: { count: 0, mean: null, p50: null, p90: null, p99: null } }),
    ]);
    const lines = csv.split("\r\n");
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe("");
    expect(lines[0]).toBe(
      "concurrency,requests,answered,errors,duration_s,ttft_p50_ms,ttft_p90_ms,ttft_p99_ms,ttft_mean_ms,itl_p50_ms,itl_p90_ms,itl_p99_ms,itl_mean_ms,latency_p50_ms,latency_p90_ms,latency_p99_ms,latency_mean_ms,output_tokens,output_tokens_per_s,requests_per_s,input_tokens_mean,interrupted",
    );
    expect(lines[1]).toBe("1,4,4,0,2,24.5,30,31.25,25,20.125,22,29,20,300,310,320,300,40,20,2,1030,false");
    expect(lines[2]?.startsWith("4,4,4,0,2,,,,,20.125")).toBe(true);
    expect(csvField('a,"b"')).toBe('"a,""b"""');
    expect(csvField("x\ny")).toBe('"x\ny"');
    expect(csvField(null)).toBe("");
    expect(renderCsv([])).toBe("\r\n");
  });
});

describe("table and progress", () => {
  it("formats three significant digits, marks an interrupted step", () => {
    expect([fmt(1234.5), fmt(24.56), fmt(3.25), fmt(null)]).toEqual(["1235", "24.6", "3.25", "-"]);
    const rows = tableRows([step(), step({ concurrency: 8, interrupted: true })]);
    expect(rows[0]).toEqual([
      "CONC",
      "REQ",
      "ERR",
      "TTFT ms p50/p90/p99",
      "ITL ms p50/p90/p99",
      "OUT tok/s",
      "REQ/s",
    ]);
    expect(rows[1]).toEqual(["1", "4", "0", "24.5/30.0/31.3", "20.1/22.0/29.0", "20.0", "2.00"]);
    expect(rows[2]?.[0]).toBe("8*");
  });

  it("the bar follows requests, or the clock with a duration", () => {
    expect(bar(0.5, 10)).toBe("[#####·····]");
    expect(bar(2, 4)).toBe("[####]");
    expect(bar(Number.NaN, 2)).toBe("[··]");
    const base = { step: 2, steps: 3, concurrency: 4, errors: 0, elapsedMs: 1500 };
    expect(progressText({ ...base, done: 8, total: 16, durationMs: null })).toBe(
      "bench step 2/3 c=4 [##########··········] 8/16 requests, 1.5 s",
    );
    expect(progressText({ ...base, done: 3, errors: 1, total: null, durationMs: 6000 })).toBe(
      "bench step 2/3 c=4 [#####···············] 3 requests, 1 error, 1.5/6 s",
    );
  });
});

describe("chart", () => {
  it("axis ends are 1, 2 or 5 × 10^k", () => {
    expect([niceCeil(0), niceCeil(0.3), niceCeil(7), niceCeil(20), niceCeil(21), niceCeil(999)]).toEqual([
      1, 0.5, 10, 20, 50, 1000,
    ]);
    expect(ticks(42)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(ticks(0.9).map(tickLabel)).toEqual(["0", "0.2", "0.4", "0.6", "0.8", "1"]);
  });

  it("one self-contained SVG: a p50 and a p99 point per answered step in each panel, labelled", () => {
    const steps = [
      step(),
      step({ concurrency: 4, outputTokensPerS: 70 }),
      step({ concurrency: 16, outputTokensPerS: 200 }),
      step({ concurrency: 64, answered: 0, errors: 4, outputTokensPerS: 0 }),
    ];
    const svg = renderChart(steps, "dyn bench <m&n>");
    expect(
      svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"'),
    ).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg.match(/<circle class="p50"/g)).toHaveLength(6);
    expect(svg.match(/<circle class="p99"/g)).toHaveLength(6);
    expect(svg.match(/<path class="p50"/g)).toHaveLength(2);
    expect(svg.match(/>c=4</g)).toHaveLength(2);
    expect(svg).not.toContain(">c=64<");
    expect(svg).toContain("<title>dyn bench &lt;m&amp;n&gt;</title>");
    expect(svg).not.toMatch(/<script|href=|url\(/);
    // the x axis ends at 200 tokens/s: the c=16 point sits on the plot's right edge (x = 56 + 368)
    expect(svg).toContain('<circle class="p50" cx="424"');
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it("says so when no step was answered", () => {
    const svg = renderChart([step({ answered: 0, errors: 4 })], "t");
    expect(svg.match(/no answered requests/g)).toHaveLength(2);
    expect(svg).not.toContain("<circle");
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(xmlEscape(`"'`)).toBe("&quot;&apos;");
  });
});

describe("flags", () => {
  it("defaults: chat, 1,4,16,64, 1024 words in, 128 out, seed 0, 4 requests per stream (≥ 16)", () => {
    expect(parseBenchOptions({})).toMatchObject({
      api: "chat",
      concurrency: [1, 4, 16, 64],
      inputTokens: 1024,
      outputTokens: 128,
      seed: 0,
      requests: [16, 16, 64, 256],
      durationS: null,
      timeoutS: 300,
    });
    expect(parseBenchOptions({ duration: "2.5", concurrency: "2" })).toMatchObject({
      requests: null,
      durationS: 2.5,
    });
    expect(parseBenchOptions({ requests: "5", concurrency: "1,8" }).requests).toEqual([5, 5]);
    expect(parseBenchOptions({ url: "http://n1:8000/" }).url).toBe("http://n1:8000");
  });

  it("each bad value names its flag", () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ concurrency: "1,,4" }, "--concurrency"],
      [{ concurrency: "0" }, "--concurrency"],
      [{ concurrency: "4097" }, "--concurrency"],
      [{ inputTokens: "many" }, "--input-tokens"],
      [{ outputTokens: "0" }, "--output-tokens"],
      [{ requests: "-1" }, "--requests"],
      [{ duration: "0" }, "--duration"],
      [{ duration: "1", requests: "2" }, "--duration"],
      [{ seed: "1.5" }, "--seed"],
      [{ timeout: "soon" }, "--timeout"],
      [{ url: "node1:8000" }, "--url"],
      [{ url: "ftp://x" }, "--url"],
      [{ url: "http://x/?a=1" }, "--url"],
      [{ model: " " }, "--model"],
      [{ api: "responses" }, "--api"],
    ];
    for (const [flags, key] of bad) {
      expect(() => parseBenchOptions(flags), key).toThrow(
        expect.objectContaining({ code: "DYN_USAGE", key }),
      );
      try {
        parseBenchOptions(flags);
      } catch (e) {
        expect((e as Error).message.startsWith(`${key}: `)).toBe(true);
        expect((e as Error).message).not.toContain("\n");
      }
    }
    expect(wholeFlag("--n", " 7 ", 1, 9)).toBe(7);
    expect(secondsFlag("--s", ".5")).toBe(0.5);
    expect(concurrencyFlag(" 1, 2 ")).toEqual([1, 2]);
    expect(urlFlag("https://h")).toBe("https://h");
  });
});
