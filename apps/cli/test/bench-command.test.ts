/**
 * `dyn bench` end to end in-process, against a small OpenAI-compatible streaming server on
 * 127.0.0.1 (node:http) that sleeps a known delay before each token.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FakeSlurm, queued, run, tmp } from "./helpers.js";

interface Seen {
  path: string;
  body: Record<string, unknown>;
}

const server = {
  delayMs: 10,
  models: ["m"],
  /** "ok", "503", "empty" (200 and [DONE] only), "whole" (a JSON answer, stream ignored), "cut" (no [DONE]) */
  mode: "ok" as "ok" | "503" | "empty" | "whole" | "cut",
  seen: [] as Seen[],
  url: "",
};
let http: Server;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function answer(req: IncomingMessage, res: ServerResponse) {
  if (req.method === "GET" && req.url === "/v1/models") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ object: "list", data: server.models.map((id) => ({ id, object: "model" })) }));
    return;
  }
  let raw = "";
  for await (const c of req) raw += c;
  const body = JSON.parse(raw) as Record<string, unknown>;
  server.seen.push({ path: req.url ?? "", body });
  const chat = req.url === "/v1/chat/completions";
  const n = Number(body.max_tokens);
  if (server.mode === "503") {
    res.writeHead(503, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: "no worker", code: 503 } }));
    return;
  }
  if (server.mode === "whole") {
    res.writeHead(200, { "content-type": "application/json" });
    const choice = chat ? { message: { role: "assistant", content: "a b" } } : { text: "a b" };
    res.end(JSON.stringify({ choices: [choice], usage: { prompt_tokens: 3, completion_tokens: 2 } }));
    return;
  }
  req.socket.setNoDelay(true);
  res.writeHead(200, { "content-type": "text/event-stream" });
  const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
  if (chat) send({ choices: [{ index: 0, delta: { role: "assistant", content: "" } }] });
  const tokens = server.mode === "empty" ? 0 : n;
  for (let i = 0; i < tokens; i++) {
    await sleep(server.delayMs);
    send({ choices: [chat ? { index: 0, delta: { content: ` w${i}` } } : { index: 0, text: ` w${i}` }] });
  }
  if (server.mode === "cut") {
    res.end();
    return;
  }
  const words = String(chat ? (body.messages as Array<{ content: string }>)[0]?.content : body.prompt).split(
    " ",
  );
  send({ choices: [], usage: { prompt_tokens: words.length + 2, completion_tokens: tokens } });
  res.end("data: [DONE]\n\n");
}

beforeAll(async () => {
  http = createServer((req, res) => {
    answer(req, res).catch((e) => res.destroy(e));
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  server.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});
afterAll(async () => {
  http.closeAllConnections();
  await new Promise((r) => http.close(r));
});
beforeEach(() => {
  server.delayMs = 10;
  server.models = ["m"];
  server.mode = "ok";
  server.seen = [];
});

const only = (dir: string) => {
  const names = readdirSync(dir);
  expect(names).toHaveLength(1);
  return join(dir, names[0] as string);
};

describe("dyn bench --url", () => {
  it("sweeps, measures the server's token delay and writes results.json, results.csv, chart.svg", async () => {
    const cwd = tmp();
    server.delayMs = 20;
    const r = await run(
      [
        "bench",
        "--url",
        server.url,
        "--concurrency",
        "1,3",
        "--requests",
        "6",
        "--input-tokens",
        "8",
        "--output-tokens",
        "5",
        "--seed",
        "42",
        "--out",
        "out",
        "--json",
      ],
      { cwd },
    );
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    // (helpers.run has parsed it with json/bench.ts's strict schema)
    expect(doc).toMatchObject({
      schemaVersion: 1,
      format: "dyn.bench/v1",
      ok: true,
      target: { jobId: null, runDir: null, url: server.url, model: "m" },
      config: {
        api: "chat",
        concurrency: [1, 3],
        inputTokens: 8,
        outputTokens: 5,
        seed: 42,
        requests: [6, 6],
      },
      interrupted: false,
    });
    expect(doc.steps).toHaveLength(2);
    for (const s of doc.steps) {
      expect(s).toMatchObject({ requests: 6, answered: 6, errors: 0, outputTokens: 30, inputTokensMean: 10 });
      expect(s.itlMs.count).toBe(24); // 4 gaps per 5-token answer
      expect(s.ttftMs.p50).toBeGreaterThanOrEqual(20 * 0.9);
      expect(s.itlMs.p50).toBeGreaterThanOrEqual(20 * 0.75);
      expect(s.outputTokensPerS).toBeGreaterThan(0);
      expect(s.requestsPerS).toBeGreaterThan(0);
    }
    // what was sent: streamed chat with usage, exactly max_tokens, a distinct 8-word prompt each
    expect(server.seen).toHaveLength(12);
    const prompts = server.seen.map((s) => (s.body.messages as Array<{ content: string }>)[0]?.content);
    expect(new Set(prompts).size).toBe(12);
    for (const p of prompts) expect(p?.split(" ")).toHaveLength(8);
    expect(server.seen[0]?.body).toMatchObject({
      model: "m",
      max_tokens: 5,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
    });
    // the files, under --out/<UTC timestamp>/, the JSON the same document
    const dir = only(join(cwd, "out"));
    expect(readdirSync(dir).sort()).toEqual(["chart.svg", "results.csv", "results.json"]);
    expect(doc.files).toEqual({
      dir,
      json: join(dir, "results.json"),
      csv: join(dir, "results.csv"),
      chart: join(dir, "chart.svg"),
    });
    expect(JSON.parse(readFileSync(join(dir, "results.json"), "utf8"))).toEqual(doc);
    const csv = readFileSync(join(dir, "results.csv"), "utf8").split("\r\n");
    expect(csv).toHaveLength(4);
    expect(csv[1]?.startsWith("1,6,6,0,")).toBe(true);
    expect(csv[2]?.startsWith("3,6,6,0,")).toBe(true);
    const svg = readFileSync(join(dir, "chart.svg"), "utf8");
    expect(svg.match(/<circle class="p50"/g)).toHaveLength(4);
    // progress and per-step lines on stderr, never on stdout
    expect(r.stderr).toContain("bench step 1/2 c=1");
    expect(r.stderr).toMatch(/c=3: 6\/6 answered; TTFT p50 [\d.]+ ms, ITL p50 [\d.]+ ms/);
  });

  it("the same seed sends the same prompts; another seed others", async () => {
    const args = [
      "bench",
      "--url",
      server.url,
      "--concurrency",
      "1",
      "--requests",
      "3",
      "--input-tokens",
      "6",
    ];
    const prompts = () =>
      server.seen.splice(0).map((s) => (s.body.messages as Array<{ content: string }>)[0]?.content);
    await run([...args, "--output-tokens", "1"]);
    const a = prompts();
    await run([...args, "--output-tokens", "1"]);
    expect(prompts()).toEqual(a);
    await run([...args, "--output-tokens", "1", "--seed", "9"]);
    expect(prompts()).not.toEqual(a);
  });

  it("--api completions sends prompts; a table on stdout without --json", async () => {
    const cwd = tmp();
    server.delayMs = 0; // the default 128 tokens
    const r = await run(
      ["bench", "--url", `${server.url}/`, "--api", "completions", "--concurrency", "2", "--requests", "2"],
      { cwd, env: {} },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(server.seen[0]?.path).toBe("/v1/completions");
    expect(server.seen[0]?.body).toMatchObject({ prompt: expect.any(String), max_tokens: 128 });
    expect(String(server.seen[0]?.body.prompt).split(" ")).toHaveLength(1024);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(
      /^CONC\s+REQ\s+ERR\s+TTFT ms p50\/p90\/p99\s+ITL ms p50\/p90\/p99\s+OUT tok\/s\s+REQ\/s$/,
    );
    expect(lines[1]).toMatch(/^2\s+2\s+0\s+/);
    expect(r.stdout).toContain(`results: ${join(cwd, "dyn-bench")}`);
    expect(existsSync(join(only(join(cwd, "dyn-bench")), "results.csv"))).toBe(true);
  });

  it("--duration: each step sends for that long", async () => {
    const r = await run(
      [
        "bench",
        "--url",
        server.url,
        "--concurrency",
        "2",
        "--duration",
        "0.3",
        "--output-tokens",
        "2",
        "--json",
      ],
      { cwd: tmp() },
    );
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.config).toMatchObject({ requests: null, durationS: 0.3 });
    expect(doc.steps[0].requests).toBeGreaterThanOrEqual(2);
    expect(doc.steps[0].durationS).toBeGreaterThanOrEqual(0.3);
  });

  it("a TTY gets a progress bar redrawn in place on stderr", async () => {
    const r = await run(
      ["bench", "--url", server.url, "--concurrency", "1", "--requests", "2", "--output-tokens", "1"],
      {
        isTTY: true,
      },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("\r\u001b[2Kbench step 1/1 c=1 [####################] 2/2 requests");
  });
});

describe("failures", () => {
  it("a server that answers nothing: errors counted with their reason, results kept, exit 1", async () => {
    server.mode = "503";
    const cwd = tmp();
    const r = await run(["bench", "--url", server.url, "--concurrency", "1,2", "--requests", "2", "--json"], {
      cwd,
    });
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.steps[0]).toMatchObject({ requests: 2, answered: 0, errors: 2, outputTokensPerS: 0 });
    expect(doc.steps[0].errorKinds).toEqual([
      { message: 'HTTP 503: {"error":{"message":"no worker","code":503}}', count: 2 },
    ]);
    expect(r.stderr).toContain("error: no request was answered at concurrency 1, 2: HTTP 503");
    expect(existsSync(join(only(join(cwd, "dyn-bench")), "results.json"))).toBe(true);
  });

  it("an answer with no tokens, or a stream cut before [DONE], is an error", async () => {
    server.mode = "empty";
    let r = await run(["bench", "--url", server.url, "--concurrency", "1", "--requests", "1", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).steps[0].errorKinds[0].message).toBe("answered with no tokens");
    server.mode = "cut";
    r = await run([
      "bench",
      "--url",
      server.url,
      "--concurrency",
      "1",
      "--requests",
      "1",
      "--output-tokens",
      "2",
      "--json",
    ]);
    expect(JSON.parse(r.stdout).steps[0].errorKinds[0].message).toBe("the stream ended before data: [DONE]");
  });

  it("a server that ignores stream: true still counts (its first token is its last)", async () => {
    server.mode = "whole";
    const r = await run(["bench", "--url", server.url, "--concurrency", "1", "--requests", "1", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).steps[0]).toMatchObject({
      answered: 1,
      outputTokens: 2,
      itlMs: { count: 0 },
    });
  });

  it("a frontend nobody listens on: the model cannot be chosen, exit 1", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const r = await run(["bench", "--url", `http://127.0.0.1:${port}`, "--requests", "1"]);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe(
      `error: GET http://127.0.0.1:${port}/v1/models failed: fetch failed: ECONNREFUSED: cannot tell which model to load (DYN_IO_FAILED)`,
    );
  });

  it("several models and no --model: exit 2 naming --model; --model picks one", async () => {
    server.models = ["a", "b"];
    const r = await run(["bench", "--url", server.url, "--requests", "1"]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(`error: --model: ${server.url} serves a, b; which one? (DYN_USAGE)`);
    const ok = await run([
      "bench",
      "--url",
      server.url,
      "--model",
      "b",
      "--concurrency",
      "1",
      "--requests",
      "1",
    ]);
    expect(ok.code).toBe(0);
    expect(server.seen[0]?.body.model).toBe("b");
  });

  it("bad flags: one line naming the flag, exit 2, nothing sent or written", async () => {
    const cwd = tmp();
    for (const [args, flag] of [
      [["--concurrency", "1,x"], "--concurrency"],
      [["--input-tokens", "0"], "--input-tokens"],
      [["--requests", "2", "--duration", "1"], "--duration"],
      [["--url", "localhost:8000"], "--url"],
      [["--api", "responses"], "--api"],
    ] as const) {
      const r = await run(["bench", "--url", server.url, "--out", "out", ...args], { cwd });
      expect(r.code, flag).toBe(2);
      expect(r.stderr.split("\n")[0], flag).toMatch(new RegExp(`^error: .*${flag}`));
    }
    expect(server.seen).toHaveLength(0);
    expect(existsSync(join(cwd, "out"))).toBe(false);
    const none = await run(["bench"], { cwd });
    expect(none.code).toBe(2);
    expect(none.stderr.split("\n")[0]).toBe(
      "error: --url: give a job id or run directory, or the frontend's --url (DYN_USAGE)",
    );
  });
});

describe("dyn bench <job>", () => {
  async function deployed(events: object[], state = "RUNNING") {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    slurm.nextJobId = "77";
    const d = await run(["deploy", "--backend", "sglang", "--model", "org/served"], { cwd, slurm });
    expect(d.code, d.stderr).toBe(0);
    const runDir = realpathSync(join(cwd, "dyn-runs", "by-job", "77"));
    appendFileSync(
      join(runDir, "status.jsonl"),
      events.map((e) => `${JSON.stringify({ t: 1, ...e })}\n`).join(""),
    );
    slurm.jobs.set("77", queued("77", state));
    return { cwd, slurm, runDir };
  }

  it("finds the URL in the job's status, the model in its plan, and writes into <run dir>/bench/", async () => {
    server.models = ["other", "org/served"];
    const { cwd, slurm, runDir } = await deployed([{ event: "ready", url: server.url }]);
    const r = await run(
      ["bench", "77", "--concurrency", "1", "--requests", "2", "--output-tokens", "2", "--json"],
      {
        cwd,
        slurm,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.target).toEqual({ jobId: "77", runDir, url: server.url, model: "org/served" });
    const dir = only(join(runDir, "bench"));
    expect(dir).toMatch(/\/bench\/\d{8}-\d{6}$/);
    expect(readdirSync(dir).sort()).toEqual(["chart.svg", "results.csv", "results.json"]);
    expect(readFileSync(join(dir, "chart.svg"), "utf8")).toContain("dyn bench job 77 org/served");
  });

  it("a deployment that is not ready has no URL to load: exit 2, pointing at dyn status", async () => {
    const { cwd, slurm, runDir } = await deployed([{ event: "job-started" }]);
    const r = await run(["bench", "77"], { cwd, slurm });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "error: 77: the deployment is starting, not ready: it has no URL to load (DYN_USAGE)\nhint: dyn status 77 shows it; dyn deploy --wait waits until it is ready\n",
    );
    expect(existsSync(join(runDir, "bench"))).toBe(false);
    // --url overrides: the run directory still receives the results
    const o = await run(
      ["bench", "77", "--url", server.url, "--concurrency", "1", "--requests", "1", "--output-tokens", "1"],
      {
        cwd,
        slurm,
      },
    );
    expect(o.code, o.stderr).toBe(0);
    expect(existsSync(join(runDir, "bench"))).toBe(true);
  });

  it("an unknown job: exit 2", async () => {
    const r = await run(["bench", "999"], { cwd: tmp() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: 999: no run directory found for it under /);
  });
});
