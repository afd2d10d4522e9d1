/**
 * Failure attribution in `dyn status --json` and `dyn deploy --wait --json` (#16 item 5), and the
 * time-to-ready report `dyn status --timeline` (#16 item 3), from run-dir fixtures: a status file,
 * step logs and plan.json as a real job leaves them.
 */
import { appendFileSync, mkdirSync, realpathSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeSlurm, queued, run, tmp } from "./helpers.js";

const T = 1_750_000_100;
const started = [
  { t: T, event: "job-started", job: "77", attempt: 1 },
  { t: T + 0.3, event: "node", index: 0, name: "node1", ip: "10.0.0.1" },
  { t: T + 0.3, event: "node", index: 1, name: "node2", ip: "10.0.0.2" },
];

/** A submitted sglang deployment (etcd, nats, frontend-0, prefill-w0 on node index 0, decode-w0 on 1). */
async function deployed(events: object[], logs: Record<string, string> = {}) {
  const cwd = tmp();
  const slurm = new FakeSlurm();
  slurm.nextJobId = "77";
  expect((await run(["deploy", "--backend", "sglang"], { cwd, slurm })).code).toBe(0);
  const dir = realpathSync(join(cwd, "dyn-runs", "by-job", "77"));
  appendFileSync(join(dir, "status.jsonl"), events.map((e) => `${JSON.stringify(e)}\n`).join(""));
  mkdirSync(join(dir, "logs"), { recursive: true });
  for (const [name, text] of Object.entries(logs)) writeFileSync(join(dir, name), text);
  slurm.jobs.set("77", queued("77", "RUNNING"));
  return { cwd, slurm, dir };
}

const statusJson = async (ctx: { cwd: string; slurm: FakeSlurm }) =>
  JSON.parse((await run(["status", "77", "--json"], ctx)).stdout).deployments[0];

describe("attribution in dyn status --json", () => {
  it("configuration: the decode worker's argparse rejection (exit 2), on node2, with its last log lines", async () => {
    const ctx = await deployed(
      [
        ...started,
        { t: T + 1, event: "started", step: "decode-w0" },
        {
          t: T + 1.5,
          event: "failed",
          component: "decode-w0",
          message: "exited with code 2 (log: logs/decode-w0.log)",
          code: 2,
        },
      ],
      {
        "logs/decode-w0.log":
          "usage: python3 -m dynamo.sglang [-h] [--model-path MODEL_PATH]\npython3 -m dynamo.sglang: error: unrecognized arguments: --no-such-flag\n",
      },
    );
    const d = await statusJson(ctx);
    expect(d.attribution).toMatchObject({
      component: "decode-w0",
      node: "node2",
      code: 2,
      category: "configuration",
      rule: "rejected-argument",
      log: "logs/decode-w0.log",
    });
    expect(d.attribution.logTail.at(-1)).toContain("unrecognized arguments: --no-such-flag");
    const table = (await run(["status", "77"], ctx)).stdout;
    expect(table).toContain("77: configuration failure: decode-w0 on node2, exit code 2");
  });

  it("infrastructure: the network preflight failed on node2 (the job ended FAILED, sacct)", async () => {
    const ctx = await deployed([
      ...started,
      {
        t: T + 1.2,
        event: "failed",
        component: "preflight",
        message: "node2: cannot reach etcd on node 0 at 10.0.0.1:20000",
      },
    ]);
    ctx.slurm.jobs.delete("77");
    ctx.slurm.acct.set("77", { jobId: "77", state: "FAILED", exitCode: "1:0" });
    writeFileSync(
      join(ctx.dir, "slurm-77.out"),
      "[dyn 03:00:01] FAILED: preflight: node2: cannot reach etcd\n",
    );
    const d = await statusJson(ctx);
    expect(d.attribution).toMatchObject({
      component: "preflight",
      node: "node2",
      code: null,
      category: "infrastructure",
      rule: "dyn-infra-step",
      log: "slurm-77.out",
    });
    expect(d.attribution.logTail).toEqual(["[dyn 03:00:01] FAILED: preflight: node2: cannot reach etcd"]);
  });

  it("infrastructure: SLURM lost a node (NODE_FAIL), whatever the dying step said", async () => {
    const ctx = await deployed([
      ...started,
      { t: T + 9, event: "failed", component: "decode-w0", message: "exited with code 1", code: 1 },
    ]);
    ctx.slurm.jobs.delete("77");
    ctx.slurm.acct.set("77", { jobId: "77", state: "NODE_FAIL", exitCode: "0:0" });
    const d = await statusJson(ctx);
    expect(d.failed).toBeNull();
    expect(d.attribution).toMatchObject({
      component: "decode-w0",
      node: "node2",
      category: "infrastructure",
      rule: "slurm-node",
    });
  });

  it("engine: the prefill worker crashed after it started (exit 1, a traceback)", async () => {
    const ctx = await deployed(
      [
        ...started,
        { t: T + 5, event: "failed", component: "prefill-w0", message: "exited with code 1", code: 1 },
      ],
      {
        "logs/prefill-w0.log":
          "loading weights\nTraceback (most recent call last):\nRuntimeError: CUDA error\n",
      },
    );
    const d = await statusJson(ctx);
    expect(d.attribution).toMatchObject({
      component: "prefill-w0",
      node: "node1",
      code: 1,
      category: "engine",
    });
  });

  it("no failure, no attribution", async () => {
    const ctx = await deployed(started);
    expect((await statusJson(ctx)).attribution).toBeNull();
  });
});

describe("attribution in dyn deploy --wait --json", () => {
  it("a worker rejected its arguments: wait.attribution says configuration, and stderr the cause", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    slurm.nextJobId = "78";
    slurm.onQueue = (n) => {
      const dir = realpathSync(join(cwd, "dyn-runs", "by-job", "78"));
      if (n === 1) {
        slurm.jobs.set("78", queued("78", "RUNNING"));
        mkdirSync(join(dir, "logs"), { recursive: true });
        writeFileSync(join(dir, "logs/decode-w0.log"), "usage: x\nx: error: unrecognized arguments: --bad\n");
        appendFileSync(
          join(dir, "status.jsonl"),
          [
            ...started,
            { t: T + 2, event: "failed", component: "decode-w0", message: "exited with code 2", code: 2 },
          ]
            .map((e) => `${JSON.stringify(e)}\n`)
            .join(""),
        );
      } else {
        slurm.jobs.delete("78");
        slurm.acct.set("78", { jobId: "78", state: "FAILED", exitCode: "1:0" });
      }
    };
    const r = await run(["deploy", "--backend", "sglang", "--wait", "--json"], { cwd, slurm });
    expect(r.code).toBe(1);
    const wait = JSON.parse(r.stdout).wait;
    expect(wait.outcome).toBe("failed");
    expect(wait.attribution).toMatchObject({
      component: "decode-w0",
      node: "node2",
      code: 2,
      category: "configuration",
    });
    expect(r.stderr).toContain(
      "cause: configuration on node2: the engine or Dynamo rejected its command line",
    );
  });
});

describe("dyn status --timeline", () => {
  const healthy = [
    ...started,
    { t: T + 0.5, event: "preflight-ok" },
    { t: T + 0.51, event: "started", step: "etcd" },
    { t: T + 0.52, event: "started", step: "nats" },
    { t: T + 0.8, event: "infra-up" },
    { t: T + 0.81, event: "started", step: "frontend-0" },
    { t: T + 0.82, event: "started", step: "prefill-w0" },
    { t: T + 0.83, event: "started", step: "decode-w0" },
    { t: T + 1.5, event: "progress", registered: "backend=0/1 prefill=1/1" },
    { t: T + 2.4, event: "smoke", tokens: 8, ttft_ms: 25, model: "m" },
    { t: T + 2.41, event: "ready", url: "http://10.0.0.1:20004", registered: "backend=1/1 prefill=1/1" },
  ];

  async function ready() {
    const ctx = await deployed(healthy, { "logs/instances.json": "{}" });
    utimesSync(join(ctx.dir, "logs/instances.json"), T + 2.2, T + 2.2);
    return ctx;
  }

  it("every phase with the queue wait from sacct, the processes, the slowest and dyn's overhead", async () => {
    const ctx = await ready();
    const submit = new Date((T - 3) * 1000);
    const local = (d: Date) =>
      `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}T${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}:${String(d.getSeconds()).padStart(2, "0")}`;
    ctx.slurm.probes.set("sacct -n -X -P -j 77 -o JobID,Submit,Start", {
      found: true,
      code: 0,
      stdout: `77|${local(submit)}|${local(new Date((T - 1) * 1000))}\n`,
      stderr: "",
    });
    const r = await run(["status", "77", "--timeline"], ctx);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain("job 77: ready 5.41 s after submit; queue times from sacct");
    for (const label of [
      "queue wait (submit → SLURM start)",
      "batch script start",
      "node setup",
      "network preflight",
      "etcd and NATS up",
      "processes launched",
      "launched → every instance registered",
      "token gate",
      "READY noticed",
    ])
      expect(out).toContain(label);
    expect(out).toMatch(/decode-w0\s+decode\s+node2\s+\+0\.83 s\s+\+2\.20 s/);
    expect(out).toContain("slowest: decode-w0 (backend on node2): 1.37 s from launch to registered");
    expect(out).toMatch(
      /dyn's overhead: 1\.01 s \(node-setup 0\.30 s, preflight 0\.20 s, infra 0\.30 s, smoke 0\.20 s, ready 0\.01 s\)/,
    );
    // one sacct call for the queue times; squeue not asked again for what sacct knew
    expect(
      ctx.slurm.calls.filter((c) => c.cmd === "sacct" && JSON.stringify(c.args).includes("Submit")),
    ).toHaveLength(1);
  });

  it("--json carries timeline; without SLURM's times the queue wait is from dyn's submit record", async () => {
    const ctx = await ready();
    const d = await statusJson(ctx);
    expect(d.timeline.queueSource).toBe("dyn");
    expect(d.timeline.phases.map((p: { id: string }) => p.id)).toEqual([
      "queue",
      "node-setup",
      "preflight",
      "infra",
      "launch",
      "register",
      "smoke",
      "ready",
    ]);
    expect(d.timeline.overhead.seconds).toBe(1.01);
    // plain --json asks SLURM nothing more than before
    expect(ctx.slurm.calls.some((c) => JSON.stringify(c.args).includes("Submit"))).toBe(false);
  });

  it("--timeline with --watch is a usage error naming the flag", async () => {
    const ctx = await ready();
    const r = await run(["status", "77", "--timeline", "--watch"], ctx);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--timeline");
  });
});
