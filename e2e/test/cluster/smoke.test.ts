/**
 * READY means it answered (#16 item 1), on the testbed: the first request goes through the real
 * frontend → prefill → decode path of the stand-in. A healthy deployment records the tokens and the
 * time to first token; one whose decode worker registers but returns no tokens never becomes READY.
 * Around the request the script reads every worker's request counter (/metrics on its system port):
 * both roles must have handled it, so a decode worker that serves without prefill (the stand-in's
 * DYN_STANDIN_SKIP_PREFILL, a disaggregated deployment silently running aggregated) fails the gate.
 */
import { afterAll, expect, it } from "vitest";
import { deploy, SMALL, standinEnv, statusEvents, stopDeployed } from "./harness.js";

afterAll(async () => {
  expect(await stopDeployed()).toEqual([]);
});

it("a healthy deployment is READY only after its first answer, with tokens and TTFT recorded", async () => {
  const { run, d } = await deploy("smoke-ok", ["--backend", "sglang", ...SMALL]);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  const events = statusEvents(d.runDir);
  const smoke = events.find((e) => e.event === "smoke");
  expect(smoke?.model).toBe(d.plan.spec.model.path);
  expect(Number(smoke?.tokens)).toBeGreaterThanOrEqual(1);
  expect(Number(smoke?.ttft_ms)).toBeGreaterThan(0);
  expect(events.findIndex((e) => e.event === "smoke")).toBeLessThan(
    events.findIndex((e) => e.event === "ready"),
  );
  // Both roles' counters moved between the readings before and after the request.
  const handled = smoke?.handled as Record<string, number> | undefined;
  expect(handled?.prefill).toBeGreaterThanOrEqual(1);
  expect(handled?.decode).toBeGreaterThanOrEqual(1);
  expect(smoke).not.toHaveProperty("handled_skipped");
  const registered = events[events.findIndex((e) => e.event === "smoke") - 1]; // the event before the gate
  const gateMs = Math.round((Number(smoke?.t) - Number(registered?.t)) * 1000);
  console.log(
    `smoke-ok: ${smoke?.tokens} tokens, first after ${smoke?.ttft_ms} ms; handled ${JSON.stringify(handled)}; ` +
      `counter readings ${smoke?.counters_ms} ms of the gate's ${gateMs} ms`,
  );
});

it("a worker that registers but returns no tokens fails the job at the gate, never READY", async () => {
  const env = standinEnv({ DYN_STANDIN_EMPTY_REPLY: "1", DYN_STANDIN_HOOKS_ONLY: "decode" });
  const { d } = await deploy("smoke-empty", ["--backend", "sglang", ...SMALL], { env });
  expect(d.wait.outcome).toBe("failed");
  expect(d.wait.failed?.component).toBe("smoke");
  expect(d.wait.failed?.message).toMatch(/answered HTTP 200 with no tokens/);
  expect(statusEvents(d.runDir).some((e) => e.event === "ready")).toBe(false);
});

it("a decode worker that serves without the prefill workers fails the gate naming prefill, never READY", async () => {
  const env = standinEnv({ DYN_STANDIN_SKIP_PREFILL: "1", DYN_STANDIN_HOOKS_ONLY: "decode" });
  const { d } = await deploy("smoke-no-prefill", ["--backend", "sglang", ...SMALL], { env });
  expect(d.wait.outcome).toBe("failed");
  expect(d.wait.failed?.component).toBe("smoke");
  expect(d.wait.failed?.message).toMatch(
    /^no prefill worker handled the smoke request: prefill-w0@\S+ 0->0 \(dynamo_component_requests_total\{dynamo_endpoint="generate"\}/,
  );
  const events = statusEvents(d.runDir);
  expect(events.some((e) => e.event === "ready" || e.event === "smoke")).toBe(false);
  console.log(`smoke-no-prefill: ${d.wait.failed?.message}`);
});

it("--no-smoke-counters reads no counter and says so in the smoke event", async () => {
  const { run, d } = await deploy("smoke-no-counters", [
    "--backend",
    "sglang",
    ...SMALL,
    "--no-smoke-counters",
  ]);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  const events = statusEvents(d.runDir);
  const smoke = events.find((e) => e.event === "smoke");
  expect(smoke).toMatchObject({ handled_skipped: "readiness.smokeCounters is off" });
  expect(smoke).not.toHaveProperty("handled");
  const registered = events[events.findIndex((e) => e.event === "smoke") - 1]; // the event before the gate
  console.log(
    `smoke-no-counters: the gate took ${Math.round((Number(smoke?.t) - Number(registered?.t)) * 1000)} ms`,
  );
});
