/**
 * Fault tests on the real testbed: a worker crash after ready, infra that cannot start, a readiness
 * timeout, scancel during start-up, two deployments sharing a node, and secret hygiene.
 */

import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  chat,
  deploy,
  dyn,
  inQueue,
  json,
  SMALL,
  standinEnv,
  statusEvents,
  stopDeployed,
  waitFor,
} from "./harness.js";

afterEach(async () => {
  expect(await stopDeployed()).toEqual([]);
});

/** Deploy with the stand-in env (or `env`); `--wait` unless `extra` says otherwise. */
const deployWith = (label: string, args: string[], env: NodeJS.ProcessEnv = standinEnv(), wait = true) =>
  deploy(label, args, { env, wait });

describe("fail fast", () => {
  it("a worker that dies after ready ends the job within 15 s, naming it", async () => {
    const env = standinEnv({ DYN_STANDIN_EXIT_AFTER: "2", DYN_STANDIN_HOOKS_ONLY: "decode" });
    const { run, d, runs } = await deployWith("crash", ["--backend", "sglang", ...SMALL], env);
    expect(d.wait.outcome, run.stderr).toBe("ready");
    await waitFor("the job to end", () => (inQueue(d.jobId) ? undefined : true), 30_000);
    const ev = statusEvents(d.runDir);
    const ready = ev.find((e) => e.event === "ready");
    const failed = ev.find((e) => e.event === "failed");
    expect(failed).toMatchObject({ component: "decode-w0" });
    expect(String(failed?.message)).toMatch(/exited with code 3/);
    expect((failed?.t ?? 0) - (ready?.t ?? 0)).toBeLessThanOrEqual(15);
    const status = json<{ deployments: Array<{ state: string; failed: { component: string } }> }>(
      await dyn(["status", d.jobId, "--runs-dir", runs, "--json"]),
    );
    expect(status.deployments[0]).toMatchObject({ state: "failed", failed: { component: "decode-w0" } });
  });

  it.each(["etcd", "nats-server"])(
    "%s that cannot start fails the job before any worker starts",
    async (binary) => {
      // A PATH entry that shadows the real binary with one that exits at once.
      const bin = mkdtempSync("/tmp/dyn-e2e-broken-");
      writeFileSync(join(bin, binary), "#!/bin/sh\necho 'simulated start failure' >&2\nexit 1\n");
      chmodSync(join(bin, binary), 0o755);
      const base = standinEnv();
      const env = { ...base, PATH: `${bin}:${base.PATH}` };
      const { run, d } = await deployWith(`broken-${binary}`, ["--backend", "vllm", ...SMALL], env);
      const component = binary === "etcd" ? "etcd" : "nats";
      expect(run.code).toBe(1);
      expect(d.wait.failed?.component).toBe(component);
      expect(run.stderr).toContain(component);
      const started = statusEvents(d.runDir)
        .filter((e) => e.event === "started")
        .map((e) => e.step);
      expect(started.some((s) => String(s).match(/frontend|prefill|decode/))).toBe(false);
      expect(readFileSync(join(d.runDir, `logs/${component}.log`), "utf8")).toContain(
        "simulated start failure",
      );
    },
  );

  it("a readiness timeout fails naming the roles that did not register", async () => {
    const env = standinEnv({ DYN_STANDIN_START_DELAY: "600", DYN_STANDIN_HOOKS_ONLY: "prefill" });
    const { run, d } = await deployWith(
      "not-ready",
      ["--backend", "sglang", ...SMALL, "--ready-timeout", "6"],
      env,
    );
    expect(run.code).toBe(1);
    expect(d.wait.failed?.component).toBe("readiness");
    expect(d.wait.failed?.message).toMatch(/not registered: prefill \(prefill 0\/1\)$/);
  });
});

describe("stopping", () => {
  it("scancel during start-up leaves no process on any node", async () => {
    const env = standinEnv({ DYN_STANDIN_START_DELAY: "600" });
    const { d, runs } = await deployWith("cancel-early", ["--backend", "vllm", ...SMALL], env, false);
    await waitFor(
      "workers to start",
      () =>
        statusEvents(d.runDir).some((e) => e.event === "started" && e.step === "decode-w0")
          ? true
          : undefined,
      60_000,
    );
    const stop = await dyn(["stop", d.jobId, "--runs-dir", runs]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(inQueue(d.jobId)).toBe(false);
  });
});

describe("sharing nodes", () => {
  it("two deployments on the same node both become ready on distinct ports", async () => {
    const shared = [
      "--backend",
      "sglang",
      "--gpus-per-node",
      "4",
      "--aggregated-workers",
      "1",
      "--gpus-per-aggregated",
      "4",
      "--sbatch-arg",
      "--nodelist=node1",
    ];
    const [a, b] = await Promise.all([deployWith("share-a", shared), deployWith("share-b", shared)]);
    for (const x of [a, b]) expect(x.d.wait.outcome, x.run.stderr).toBe("ready");
    const urls = [a.d.wait.url, b.d.wait.url] as string[];
    expect(new URL(urls[0] as string).hostname).toBe(new URL(urls[1] as string).hostname);
    expect(urls[0]).not.toBe(urls[1]);
    for (const url of urls) expect((await chat(url, "Qwen/Qwen3-0.6B")).status).toBe(200);
  });
});

describe("secrets", () => {
  it("a secret's value reaches the workers and appears nowhere else", async () => {
    const secret = `hf_${createHash("sha256").update(String(Math.random())).digest("hex").slice(0, 24)}`;
    const env = standinEnv({ HF_TOKEN: secret, DYN_STANDIN_SECRETS: "HF_TOKEN" });
    const { run, d, runs } = await deployWith(
      "secret",
      ["--backend", "vllm", ...SMALL, "--secret", "HF_TOKEN"],
      env,
    );
    expect(d.wait.outcome, run.stderr).toBe("ready");
    const outputs = [run.stdout, run.stderr];
    for (const cmd of [
      ["status", d.jobId],
      ["logs", d.jobId],
      ["logs", d.jobId, "--role", "prefill"],
      ["plan", "--backend", "vllm", ...SMALL, "--secret", "HF_TOKEN"],
    ]) {
      const r = await dyn([...cmd, "--runs-dir", runs], { env });
      outputs.push(r.stdout, r.stderr);
    }
    await dyn(["stop", d.jobId, "--runs-dir", runs], { env });
    for (const text of outputs) expect(text).not.toContain(secret);
    for (const file of walk(runs)) expect(readFileSync(file, "utf8"), file).not.toContain(secret);
    const digest = createHash("sha256").update(secret).digest("hex").slice(0, 12);
    const prefillLog = readFileSync(join(d.runDir, "logs/prefill-w0.log"), "utf8");
    expect(prefillLog).toContain(`secret HF_TOKEN received sha256=${digest}`);
  });
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return [];
    return st.isDirectory() ? walk(p) : [p];
  });
}
