/**
 * READY means it answered (issue #16 item 1): after every instance registered, the script sends one
 * streaming chat completion through the frontend and is READY only when tokens came back. Whole
 * script under bash (helpers/harness.ts); the python3 stub answers the request as STUB_SMOKE says.
 */
import { afterEach, expect, it } from "vitest";
import { renderScript } from "../src/index.js";
import { planForTest, type TestSpec } from "../src/testing.js";
import { perNode } from "./fixtures/backends.js";
import { nodeIp, ScriptRun } from "./helpers/harness.js";

const runs: ScriptRun[] = [];
afterEach(() => {
  for (const r of runs.splice(0)) r.dispose();
});

function start(spec: TestSpec, env: Record<string, string> = {}) {
  const plan = planForTest(perNode, { model: { path: "org/m", servedName: "served-m" }, ...spec });
  const run = new ScriptRun();
  runs.push(run);
  run.start(renderScript(plan, { runDir: run.runDir }), { nodes: plan.nodes, env });
  return { run, plan };
}

it("asks the frontend for the served model and records tokens and time to first token before READY", async () => {
  const { run } = start({});
  await run.untilEvent("ready");
  const names = run.events().map((e) => e.event);
  expect(names.indexOf("smoke")).toBeGreaterThan(-1);
  expect(names.indexOf("smoke")).toBeLessThan(names.indexOf("ready"));
  expect(run.events().find((e) => e.event === "smoke")).toMatchObject({
    tokens: 4,
    ttft_ms: 12,
    model: "served-m",
  });
  const [url, model] = (run.recorded("smoke.args") ?? "").split("\n");
  expect(url).toMatch(new RegExp(`^http://${nodeIp(0).replaceAll(".", "\\.")}:\\d+$`));
  expect(model).toBe("served-m");
});

it("an empty or failed answer fails the job naming what was seen, and it never says READY", async () => {
  const { run } = start(
    {},
    {
      STUB_SMOKE: "fail POST /v1/chat/completions answered HTTP 200 with no tokens (body head: data: [DONE])",
    },
  );
  const failed = await run.untilEvent("failed");
  expect(failed).toMatchObject({
    component: "smoke",
    message:
      "the first request through the frontend failed: POST /v1/chat/completions answered HTTP 200 with no tokens (body head: data: [DONE])",
  });
  expect((await run.waitExit()).code).toBe(1);
  expect(run.events().some((e) => e.event === "ready")).toBe(false);
});

it("no answer at all (killed at the bound) fails as such", async () => {
  const { run } = start({}, { STUB_SMOKE: "" });
  const failed = await run.untilEvent("failed");
  expect(failed.component).toBe("smoke");
  expect(String(failed.message)).toMatch(/got no answer within 120 s$/);
});

it("readiness.smoke false skips it", async () => {
  const { run } = start({ readiness: { smoke: false } });
  await run.untilEvent("ready");
  expect(run.events().some((e) => e.event === "smoke")).toBe(false);
  expect(run.recorded("smoke.args")).toBeUndefined();
});
