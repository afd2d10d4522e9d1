/**
 * `dyn bench` against a testbed deployment (#16 item 2): the stand-in streams tokens
 * DYN_STANDIN_TOKEN_DELAY_MS apart, a 3-step sweep writes results.json, results.csv and chart.svg
 * into the run directory, and the inter-token latency it measures is that delay.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { deploy, dyn, json, SMALL, standinEnv, stopDeployed } from "./harness.js";

afterAll(async () => {
  expect(await stopDeployed()).toEqual([]);
});

interface Stats {
  p50: number;
  p90: number;
  p99: number;
}
interface Step {
  concurrency: number;
  requests: number;
  answered: number;
  errors: number;
  ttftMs: Stats;
  itlMs: Stats & { count: number };
  outputTokens: number;
  outputTokensPerS: number;
  requestsPerS: number;
}

it("a 3-step sweep measures the stand-in's per-token delay and writes JSON, CSV and the chart", async () => {
  const delayMs = 25;
  const env = standinEnv({ DYN_STANDIN_TOKEN_DELAY_MS: String(delayMs) });
  const { run, d, runs } = await deploy("bench", ["--backend", "vllm", ...SMALL], { env });
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  const b = await dyn(
    [
      "bench",
      d.jobId,
      "--runs-dir",
      runs,
      "--concurrency",
      "1,2,4",
      "--requests",
      "8",
      "--input-tokens",
      "32",
      "--output-tokens",
      "16",
      "--json",
    ],
    { env, timeoutMs: 120_000 },
  );
  expect(b.code, b.stderr).toBe(0);
  const doc = json<{
    target: { jobId: string; runDir: string; url: string; model: string };
    steps: Step[];
    files: { dir: string; json: string; csv: string; chart: string };
  }>(b);
  expect(doc.target).toMatchObject({ jobId: d.jobId, runDir: d.runDir, url: d.wait.url });
  expect(doc.target.model).toBe(d.plan.spec.model.path);
  expect(doc.steps.map((s) => s.concurrency)).toEqual([1, 2, 4]);
  for (const s of doc.steps) {
    console.log(
      `bench c=${s.concurrency}: ITL p50 ${s.itlMs.p50} ms (configured ${delayMs}), p90 ${s.itlMs.p90}, p99 ${s.itlMs.p99}; TTFT p50 ${s.ttftMs.p50} ms, p90 ${s.ttftMs.p90}, p99 ${s.ttftMs.p99}; ${s.outputTokensPerS} output tok/s, ${s.requestsPerS} req/s`,
    );
    expect(s).toMatchObject({ requests: 8, answered: 8, errors: 0, outputTokens: 8 * 16 });
    expect(s.itlMs.count).toBe(8 * 15);
    // every token waits the delay: the median gap is the delay plus the two HTTP hops' overhead
    expect(s.itlMs.p50).toBeGreaterThanOrEqual(delayMs * 0.9);
    expect(s.itlMs.p50).toBeLessThanOrEqual(delayMs * 1.4);
    expect(s.ttftMs.p50).toBeGreaterThanOrEqual(delayMs * 0.9); // the first token waits it too
  }
  // the files, in the run directory, the JSON being the document printed
  expect(doc.files.dir.startsWith(join(d.runDir, "bench"))).toBe(true);
  expect(readdirSync(join(d.runDir, "bench"))).toHaveLength(1);
  for (const f of [doc.files.json, doc.files.csv, doc.files.chart]) expect(existsSync(f), f).toBe(true);
  expect(JSON.parse(readFileSync(doc.files.json, "utf8"))).toEqual(doc);
  const csv = readFileSync(doc.files.csv, "utf8").trimEnd().split("\r\n");
  expect(csv).toHaveLength(4);
  expect(csv.slice(1).map((l) => l.split(",").slice(0, 4).join(","))).toEqual([
    "1,8,8,0",
    "2,8,8,0",
    "4,8,8,0",
  ]);
  const svg = readFileSync(doc.files.chart, "utf8");
  expect(svg).toContain("<svg");
  expect(svg.match(/<circle class="p50"/g)).toHaveLength(6);
});
