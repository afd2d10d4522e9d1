/**
 * READY means it answered (issue #16 item 1): after every instance registered, the script sends one
 * streaming chat completion through the frontend and is READY only when tokens came back. Whole
 * script under bash (helpers/harness.ts); the python3 stub answers the request as STUB_SMOKE says.
 * Around it every worker's request counter is read before and after (STUB_COUNTERS says what the stub
 * reads), and each role (prefill, decode, aggregated) must have handled the request.
 */
import { afterEach, expect, it } from "vitest";
import { type Plan, renderScript } from "../src/index.js";
import { planForTest, type TestSpec } from "../src/testing.js";
import { perNode } from "./fixtures/backends.js";
import { nodeIp, ScriptRun } from "./helpers/harness.js";

const COUNTER = 'dynamo_component_requests_total{dynamo_endpoint="generate"}';

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

/** What dyn_smoke's python3 was given after the URL and the model (NUL-separated by the stub). */
function smokeArgv(run: ScriptRun): string[] {
  return (run.recorded("smoke.argv") ?? "").split("\0").filter(Boolean);
}

/** The DYN_SYSTEM_PORT a step was started with (the srun stub records its argv). */
function systemPort(run: ScriptRun, step: string): string | undefined {
  const argv = (run.recorded(`${step}.argv`) ?? "").split("\0");
  return argv.find((a) => a.startsWith("DYN_SYSTEM_PORT="))?.slice("DYN_SYSTEM_PORT=".length);
}

/** The counter targets dyn_smoke expanded from its segments (the stub keeps the file), one per worker. */
function targetsOf(run: ScriptRun): string[] {
  return (run.recorded("smoke.targets") ?? "").split("\n").filter(Boolean);
}

/** Every target is at its step's node address and the port its process got as DYN_SYSTEM_PORT. */
async function expectAtSystemPorts(run: ScriptRun, plan: Plan, targets: string[]) {
  const registering = plan.steps.filter((s) => s.registers && s.role !== "frontend");
  // The stub's READY does not wait for the processes: a launch step may still be recording their argv.
  await run.until(
    "every worker's recorded argv",
    () => registering.every((s) => run.argv(s.id)) || undefined,
  );
  expect(targets.map((t) => t.replace(/@.*/, ""))).toEqual(registering.map((s) => `${s.role}:${s.id}`));
  for (const [i, t] of targets.entries()) {
    const step = registering[i] as Plan["steps"][number];
    const k = step.nodes[0] as number;
    expect(t.slice(t.indexOf("@"))).toBe(`@node${k}=${nodeIp(k)}:${systemPort(run, step.id)}`);
  }
}

it("reads every worker's request counter on its node's system port before and after, and records what each role handled", async () => {
  const { run, plan } = start({ roles: { prefill: { workers: 2 }, decode: { workers: 1 } } });
  await run.untilEvent("ready");
  const smoke = run.events().find((e) => e.event === "smoke");
  // The stub counts 0 then 1 on every worker: two prefill workers handled 2 between the readings.
  // counters_ms: what the readings took, as the helper reports it (3 from the stub).
  expect(smoke).toMatchObject({ tokens: 4, handled: { prefill: 2, decode: 1 }, counters_ms: 3 });
  expect(smoke).not.toHaveProperty("handled_skipped");
  const args = smokeArgv(run);
  expect(args.slice(0, 3)).toEqual([
    "counters",
    "dynamo_component_requests_total",
    "dynamo_endpoint=generate",
  ]);
  const targets = targetsOf(run);
  expect(targets.map((t) => t.replace(/=.*/, ""))).toEqual([
    "prefill:prefill-w0@node0",
    "prefill:prefill-w1@node1",
    "decode:decode-w0@node2",
  ]);
  await expectAtSystemPorts(run, plan, targets);
});

it("many workers on a node and nodes with fewer: each at its own port, from a few segments of the script", async () => {
  // 8 GPUs a node, 3 GPUs a worker: 2 workers on each of nodes 0-2, then 1 on node 3 (7 workers).
  const { run, plan } = start({ roles: { aggregated: { workers: 7, gpusPerWorker: 3 } } });
  await run.untilEvent("ready");
  const targets = targetsOf(run);
  expect(targets).toHaveLength(7);
  await expectAtSystemPorts(run, plan, targets);
  const segments = smokeArgv(run).slice(3);
  expect(segments.length).toBeLessThanOrEqual(2);
  expect(run.events().find((e) => e.event === "smoke")).toMatchObject({ handled: { aggregated: 7 } });
});

it("a plan at the process limit names its workers' counters in a few words, not one per worker", () => {
  const workers = 39_994; // the process limit (39997) less etcd, NATS and the frontend
  const plan = planForTest(perNode, {
    model: { path: "org/m" },
    roles: { aggregated: { workers, gpusPerWorker: 1 } },
  });
  const line = renderScript(plan, { runDir: "/r" })
    .split("\n")
    .find((l) => l.startsWith("dyn_smoke ")) as string;
  expect(line.length).toBeLessThan(400);
  // Node 0 also runs the frontend (other ports), then one run of 8 workers a node to the end.
  expect(line).toMatch(/ aggregated:0:8:0:1:[+0-9,]+: aggregated:8:39986:1:1:[+0-9,]+:$/);
});

it("a role whose workers all read and none counted the request fails the job at the gate, naming it and each reading", async () => {
  const { run } = start({}, { STUB_COUNTERS: "prefill=7,7" });
  const failed = await run.untilEvent("failed");
  expect(failed).toMatchObject({
    component: "smoke",
    message: `no prefill worker handled the smoke request: prefill-w0@node0 7->7 (${COUNTER} on each worker's system port, before->after the request)`,
  });
  expect((await run.waitExit()).code).toBe(1);
  expect(run.events().some((e) => e.event === "ready" || e.event === "smoke")).toBe(false);
});

it("an aggregated deployment checks its worker role", async () => {
  const healthy = start({ roles: { aggregated: { workers: 1 } } });
  await healthy.run.untilEvent("ready");
  expect(healthy.run.events().find((e) => e.event === "smoke")).toMatchObject({ handled: { aggregated: 1 } });
  const idle = start({ roles: { aggregated: { workers: 1 } } }, { STUB_COUNTERS: "aggregated=3,3" });
  expect(await idle.run.untilEvent("failed")).toMatchObject({
    component: "smoke",
    message: expect.stringMatching(
      /^no aggregated worker handled the smoke request: aggregated-w0@node0 3->3 /,
    ),
  });
});

it("a worker whose counter cannot be read leaves its role unchecked, said in the smoke event, not failed", async () => {
  const { run } = start(
    {},
    { STUB_COUNTERS: "decode=?/metrics:_connection_refused,?/metrics:_connection_refused" },
  );
  await run.untilEvent("ready");
  expect(run.events().find((e) => e.event === "smoke")).toMatchObject({
    handled: { prefill: 1 },
    handled_skipped: "decode not checked (decode-w0@node1: /metrics:_connection_refused)",
  });
});

it("readiness.smokeCounters false, or a release without the counter, skips the readings and says why", async () => {
  const off = start({ readiness: { smokeCounters: false } });
  await off.run.untilEvent("ready");
  expect(off.run.events().find((e) => e.event === "smoke")).toMatchObject({
    tokens: 4,
    handled_skipped: "readiness.smokeCounters is off",
  });
  expect(smokeArgv(off.run)).toEqual(["skip", "readiness.smokeCounters is off"]);
  expect(off.plan.smokeCounters).toEqual({ skipped: "readiness.smokeCounters is off" });
  // Dynamo 0.3.2 has no system status server (releases.ts RUNTIME_ROWS, requestCounter null).
  const old = start({ dynamo: { version: "0.3.2" } });
  await old.run.untilEvent("ready");
  expect(old.run.events().find((e) => e.event === "smoke")).toMatchObject({
    handled_skipped: "Dynamo 0.3.2 workers export no request counter (no /metrics on a system port)",
  });
  expect(smokeArgv(old.run)[0]).toBe("skip");
});
