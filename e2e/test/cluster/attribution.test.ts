/**
 * Failure attribution and the time-to-ready report on the real testbed (#16 items 3 and 5): one
 * failure of each category, attributed in `deploy --wait --json` and `dyn status --json`, and the
 * timeline of a healthy deployment listing every phase.
 */
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { deploy, dyn, inQueue, json, SMALL, standinEnv, stopDeployed, waitFor } from "./harness.js";

afterEach(async () => {
  expect(await stopDeployed()).toEqual([]);
});

interface Attribution {
  component: string;
  node: string | null;
  code: number | null;
  category: string;
  rule: string;
  logTail: string[];
}
const attributionOf = async (jobId: string, runs: string) =>
  json<{ deployments: Array<{ attribution: Attribution | null }> }>(
    await dyn(["status", jobId, "--runs-dir", runs, "--json"]),
  ).deployments[0]?.attribution;

describe("failure attribution", () => {
  it("configuration: a decode worker given an argument its release does not have (argparse, exit 2)", async () => {
    const dir = mkdtempSync("/tmp/dyn-e2e-badarg-");
    writeFileSync(
      join(dir, "dyn.yaml"),
      'backend: sglang\nroles:\n  prefill: { workers: 1, gpusPerWorker: 1 }\n  decode: { workers: 1, gpusPerWorker: 1, args: "--no-such-flag" }\n',
    );
    const { run, d } = await deploy("badarg", ["--config", join(dir, "dyn.yaml")], { cwd: dir });
    expect(run.code).toBe(1);
    const a = (d.wait as unknown as { attribution: Attribution }).attribution;
    expect(a).toMatchObject({
      component: "decode-w0",
      code: 2,
      category: "configuration",
      rule: "rejected-argument",
    });
    expect(a.node).toMatch(/^node\d+$/);
    expect(a.logTail.join("\n")).toContain("unrecognized arguments: --no-such-flag");
    expect(run.stderr).toContain("cause: configuration");
  });

  it("infrastructure: etcd that cannot start", async () => {
    const bin = mkdtempSync("/tmp/dyn-e2e-broken-");
    writeFileSync(join(bin, "etcd"), "#!/bin/sh\necho 'simulated start failure' >&2\nexit 1\n");
    chmodSync(join(bin, "etcd"), 0o755);
    const base = standinEnv();
    const { run, d, runs } = await deploy("attr-etcd", ["--backend", "sglang", ...SMALL], {
      env: { ...base, PATH: `${bin}:${base.PATH}` },
    });
    expect(run.code).toBe(1);
    await waitFor("the job to end", () => (inQueue(d.jobId) ? undefined : true), 30_000);
    const a = await attributionOf(d.jobId, runs);
    expect(a).toMatchObject({
      component: "etcd",
      category: "infrastructure",
      rule: "dyn-infra-step",
      code: 1,
    });
    expect(a?.logTail.join("\n")).toContain("simulated start failure");
  });

  it("engine: a worker that exits after READY", async () => {
    const env = standinEnv({ DYN_STANDIN_EXIT_AFTER: "2", DYN_STANDIN_HOOKS_ONLY: "decode" });
    const { run, d, runs } = await deploy("attr-crash", ["--backend", "sglang", ...SMALL], { env });
    expect(d.wait.outcome, run.stderr).toBe("ready");
    await waitFor("the job to end", () => (inQueue(d.jobId) ? undefined : true), 30_000);
    const a = await attributionOf(d.jobId, runs);
    expect(a).toMatchObject({ component: "decode-w0", code: 3, category: "engine", rule: "engine-exit" });
    expect(a?.node).toMatch(/^node\d+$/);
  });
});

describe("dyn status --timeline", () => {
  it("lists every phase of a healthy deployment, the processes and dyn's overhead", async () => {
    const { run, d, runs } = await deploy("timeline", ["--backend", "sglang", ...SMALL]);
    expect(d.wait.outcome, run.stderr).toBe("ready");
    const r = await dyn(["status", d.jobId, "--runs-dir", runs, "--timeline", "--json"]);
    const t = json<{
      deployments: Array<{
        timeline: {
          outcome: string;
          phases: Array<{ id: string; seconds: number }>;
          processes: Array<{
            step: string;
            node: string | null;
            launched: number;
            registered: number | null;
            source: string | null;
            instance: string | null;
          }>;
          nodes: Array<{ name: string; setupStart: number | null; setupEnd: number | null }>;
          overhead: { seconds: number };
          queueSource: string;
          slowestProcess: { component: string; steps: string[] } | null;
          slowestSetup: { node: string; seconds: number } | null;
        };
      }>;
    }>(r).deployments[0]?.timeline;
    expect(t?.outcome).toBe("ready");
    expect(t?.phases.map((p) => p.id)).toEqual([
      "queue",
      ...(t?.queueSource === "dyn" ? [] : ["batch-start"]),
      "node-setup",
      "preflight",
      "infra",
      "launch",
      "register",
      "smoke",
      "ready",
    ]);
    for (const p of t?.phases ?? []) expect(p.seconds).toBeGreaterThanOrEqual(0);
    expect(t?.processes.find((p) => p.step === "decode-w0")?.node).toMatch(/^node\d+$/);
    // Every registering worker is matched to its own instance (logs/registrations.json), after its launch.
    for (const step of ["decode-w0", "prefill-w0"]) {
      const p = t?.processes.find((x) => x.step === step);
      expect(p, step).toMatchObject({ source: "instance", instance: expect.any(String) });
      expect(p?.registered ?? -1, step).toBeGreaterThan(p?.launched ?? Number.POSITIVE_INFINITY);
    }
    // One step named as the slowest, and each node's own setup window, ordered and after job start.
    expect(t?.slowestProcess?.steps).toHaveLength(1);
    expect(t?.nodes.length).toBeGreaterThan(0);
    for (const n of t?.nodes ?? []) {
      expect(n.setupStart ?? -1, n.name).toBeGreaterThanOrEqual(0);
      expect(n.setupEnd ?? -1, n.name).toBeGreaterThanOrEqual(n.setupStart ?? 0);
    }
    expect(t?.nodes.map((n) => n.name)).toContain(t?.slowestSetup?.node);
    expect(t?.overhead.seconds).toBeGreaterThan(0);
    const text = await dyn(["status", d.jobId, "--runs-dir", runs, "--timeline"]);
    expect(text.stdout).toContain("dyn's overhead:");
    expect(text.stdout).toContain("node setup per node");
    console.log(text.stdout);
  });
});
