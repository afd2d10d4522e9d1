/**
 * The whole lifecycle for each built-in backend in its current generation, and vLLM's legacy
 * `dynamo serve` graphs: deploy --wait → ready → a chat completion that crosses nodes → status shows
 * every role ready → logs show each component → stop → the job is gone and nothing is left on any node.
 */

import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  chat,
  type Deployed,
  deploy,
  dyn,
  inQueue,
  json,
  leftoverProcesses,
  repo,
  SMALL,
  standinEnv,
  stopDeployed,
  waitFor,
} from "./harness.js";

const services = ["frontend", "prefill", "decode", "etcd", "nats"];
// Bare metal on the testbed: the legacy graph directory is the stand-in's copy of examples/vllm_v1.
const vllmGraph = join(repo, "testbed/runtime/workspace/examples/vllm_v1");
const trtllmConfigs = join(repo, "testbed/runtime/workspace/examples/backends/trtllm/engine_configs/qwen3");
const cases: Array<{ name: string; args: string[]; logs: string[]; env?: Record<string, string> }> = [
  { name: "vllm", args: ["--backend", "vllm"], logs: services },
  { name: "sglang", args: ["--backend", "sglang"], logs: services },
  {
    name: "trtllm",
    // Bare metal: the release's example engine configs from the stand-in's copy of /workspace.
    args: [
      "--backend",
      "trtllm",
      ...["prefill", "decode"].flatMap((r) => ["-o", `${r}EngineConfig=${trtllmConfigs}/${r}.yaml`]),
    ],
    logs: services,
  },
  {
    name: "vllm legacy (dynamo serve)",
    args: ["--backend", "vllm", "--legacy", "-o", `graphDir=${vllmGraph}`],
    env: { DYN_STANDIN_VERSION: "0.3.2" },
    // the only decode worker runs inside the frontend process (graphs.agg:Frontend)
    logs: services.filter((s) => s !== "decode"),
  },
];

afterAll(async () => {
  await stopDeployed();
});

describe.each(cases)("$name", ({ name, args, logs, env }) => {
  let deployed: Deployed;
  let runs: string;

  it("deploys and becomes ready", async () => {
    // The legacy graph adds a decode worker inside the frontend process.
    const {
      run,
      d,
      runs: dir,
    } = await deploy(name, [...args, ...SMALL], env ? { env: standinEnv(env) } : {});
    deployed = d;
    runs = dir;
    expect(deployed.wait, run.stderr).toMatchObject({ outcome: "ready" });
    expect(run.code).toBe(0);
    expect(deployed.wait.url).toMatch(/^http:\/\/10\.77\.0\.\d+:\d+$/);
  });

  it("answers a chat completion routed prefill → decode across nodes", async () => {
    const url = deployed.wait.url as string;
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    const model = models.data[0]?.id as string;
    expect(model).toBeTruthy();
    const answer = await chat(url, model, "what is 2+2?");
    expect(answer.status).toBe(200);
    const route = answer.body.dyn_route as { prefill: string; decode: string };
    expect(route.prefill).toMatch(/^10\.77\.0\./);
    expect(route.decode).toMatch(/^10\.77\.0\./);
    expect(route.prefill).not.toBe(route.decode);
    const choices = answer.body.choices as Array<{ message: { content: string } }>;
    expect(choices[0]?.message.content).toContain("what is 2+2?");
  });

  it("status shows every role ready", async () => {
    const status = json<{
      deployments: Array<{
        state: string;
        url: string;
        roles: Array<{ role: string; registered: number; expected: number }>;
      }>;
    }>(await dyn(["status", deployed.jobId, "--runs-dir", runs, "--json"]));
    const d = status.deployments[0];
    expect(d?.state).toBe("ready");
    expect(d?.url).toBe(deployed.wait.url);
    expect(d?.roles.map((r) => r.role).sort()).toEqual(["decode", "prefill"]);
    for (const r of d?.roles ?? []) expect(r.registered).toBe(r.expected);
  });

  it("logs show each component", async () => {
    for (const role of logs) {
      const run = await dyn(["logs", deployed.jobId, "--role", role, "--runs-dir", runs]);
      expect(run.code, `${role}: ${run.stderr}`).toBe(0);
      expect(run.stdout.trim().length, `${role} log is empty`).toBeGreaterThan(0);
    }
    const batch = await dyn(["logs", deployed.jobId, "--runs-dir", runs]);
    expect(batch.stdout).toContain("READY");
  });

  it("stops: the job leaves the queue and no process is left on any node", async () => {
    const run = await dyn(["stop", deployed.jobId, "--runs-dir", runs]);
    expect(run.code, run.stderr).toBe(0);
    expect(inQueue(deployed.jobId)).toBe(false);
    const left = await waitFor(
      "no leftover processes",
      () => {
        const l = leftoverProcesses();
        return l.length === 0 ? l : undefined;
      },
      30_000,
    ).catch(() => leftoverProcesses());
    expect(left).toEqual([]);
  });
});
