/**
 * READY means it answered (#16 item 1), on the testbed: the first request goes through the real
 * frontend → prefill → decode path of the stand-in. A healthy deployment records the tokens and the
 * time to first token; one whose decode worker registers but returns no tokens never becomes READY.
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
  console.log(`smoke-ok: ${smoke?.tokens} tokens, first after ${smoke?.ttft_ms} ms`);
});

it("a worker that registers but returns no tokens fails the job at the gate, never READY", async () => {
  const env = standinEnv({ DYN_STANDIN_EMPTY_REPLY: "1", DYN_STANDIN_HOOKS_ONLY: "decode" });
  const { d } = await deploy("smoke-empty", ["--backend", "sglang", ...SMALL], { env });
  expect(d.wait.outcome).toBe("failed");
  expect(d.wait.failed?.component).toBe("smoke");
  expect(d.wait.failed?.message).toMatch(/answered HTTP 200 with no tokens/);
  expect(statusEvents(d.runDir).some((e) => e.event === "ready")).toBe(false);
});
