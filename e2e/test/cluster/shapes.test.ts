/**
 * Deployment shapes on the real testbed: workers spanning two nodes (per-node ranks for SGLang and
 * vLLM, one MPI-style step for TRT-LLM), four workers packed on one node with disjoint GPUs, and a
 * container run through the pyxis stand-in (image, mounts, --container-env recorded per step).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isInfraStep } from "@dyn/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  chat,
  deploy,
  health,
  inQueue,
  pyxisRequests,
  standinEnv,
  statusEvents,
  stopDeployed,
} from "./harness.js";

afterEach(async () => {
  // every shape must leave the nodes clean
  expect(await stopDeployed()).toEqual([]);
});

/** Deploy and wait; each shape must become ready. */
async function deployReady(label: string, args: string[], env?: NodeJS.ProcessEnv) {
  const { run, d } = await deploy(label, args, env ? { env } : {});
  expect(d.wait.outcome, run.stderr).toBe("ready");
  return d;
}

const plan = (runDir: string) =>
  JSON.parse(readFileSync(join(runDir, "plan.json"), "utf8")) as {
    processes: Array<{ id: string; nodes: number[]; gpus: number[]; log: string }>;
  };
const nodeOf = (runDir: string) =>
  new Map(
    statusEvents(runDir)
      .filter((e) => e.event === "node")
      .map((e) => [Number(e.index), String(e.ip)]),
  );

describe("a worker spanning two nodes", () => {
  it.each([
    ["sglang", ["--backend", "sglang"]],
    ["vllm", ["--backend", "vllm"]],
  ])("%s: one process per node, rank 0 registers once, requests are served", async (_name, backend) => {
    const d = await deployReady(`span-${_name}`, [
      ...backend,
      "--aggregated-workers",
      "1",
      "--gpus-per-aggregated",
      "16",
    ]);
    const procs = plan(d.runDir).processes.filter((p) => p.id.startsWith("aggregated-w0"));
    expect(procs.map((p) => p.id)).toEqual(["aggregated-w0-r0", "aggregated-w0-r1"]);
    expect(new Set(procs.flatMap((p) => p.nodes)).size).toBe(2);
    const h = await health(d.wait.url as string);
    expect(h.instances.filter((i) => i.component === "backend")).toHaveLength(1);
    const r1 = readFileSync(join(d.runDir, procs[1]?.log as string), "utf8");
    expect(r1).toMatch(/rank ?1/i);
    expect((await chat(d.wait.url as string, "Qwen/Qwen3-0.6B")).status).toBe(200);
  });

  it("trtllm: one step over both nodes with one task per GPU", async () => {
    const d = await deployReady("span-trtllm", [
      "--backend",
      "trtllm",
      "--gpus-per-node",
      "2",
      "--aggregated-workers",
      "1",
      "--gpus-per-aggregated",
      "4",
    ]);
    const procs = plan(d.runDir).processes.filter((p) => p.id.startsWith("aggregated"));
    expect(procs).toHaveLength(1);
    expect(procs[0]?.nodes).toHaveLength(2);
    const log = readFileSync(join(d.runDir, procs[0]?.log as string), "utf8");
    // srun --label prefixes each line with its task id: all four ranks ran
    for (const rank of [0, 1, 2, 3]) expect(log).toMatch(new RegExp(`^${rank}: `, "m"));
    expect((await chat(d.wait.url as string, "Qwen/Qwen3-0.6B")).status).toBe(200);
  });
});

describe("packing", () => {
  it("four 2-GPU workers share one node with disjoint CUDA_VISIBLE_DEVICES", async () => {
    const d = await deployReady("packed", [
      "--backend",
      "vllm",
      "--aggregated-workers",
      "4",
      "--gpus-per-aggregated",
      "2",
    ]);
    const procs = plan(d.runDir).processes.filter((p) => p.id.startsWith("aggregated"));
    expect(new Set(procs.flatMap((p) => p.nodes))).toEqual(new Set([0]));
    const seen = procs.map(
      (p) => /CUDA_VISIBLE_DEVICES=([\d,]+)/.exec(readFileSync(join(d.runDir, p.log), "utf8"))?.[1],
    );
    expect(seen.sort()).toEqual(["0,1", "2,3", "4,5", "6,7"]);
    const h = await health(d.wait.url as string);
    expect(h.instances.filter((i) => i.component === "backend")).toHaveLength(4);
  });
});

describe("containers through the pyxis stand-in", () => {
  it("every step asks for the image, the mounts, the job-scoped name and the forced env names", async () => {
    const image = "nvcr.io#nvidia/ai-dynamo/sglang-runtime:1.1.0";
    const env = standinEnv({ HF_TOKEN: "hf_e2e_container_token" });
    const d = await deployReady(
      "pyxis",
      [
        "--backend",
        "sglang",
        "--container",
        image,
        "--container-mount",
        "/tmp:/tmp:ro",
        "--container-env",
        "NCCL_DEBUG",
        "--secret",
        "HF_TOKEN",
        "--hf-cache",
        "/tmp/dyn-e2e-hf",
      ],
      env,
    );
    const requests = pyxisRequests(d.jobId);
    const byStep = new Map(requests.map((r) => [`${r.step}@${r.node}`, r.options]));
    expect(byStep.size).toBeGreaterThanOrEqual(5); // preload on each node, etcd, nats, frontend, workers
    for (const options of byStep.values()) {
      expect(options["container-image"]).toBe(image);
      expect(options["container-name"]).toBe(`dyn-${d.jobId}`);
      expect(options["container-mounts"]).toBe("/tmp/dyn-e2e-hf:/root/.cache/huggingface,/tmp:/tmp:ro");
      expect(options["no-container-mount-home"]).toBe("1");
    }
    // The forced env names (secret included) go to the Dynamo processes only: not to the image
    // preload, etcd or NATS.
    const forced = [...byStep.values()].filter((o) => o["container-env"] !== undefined);
    for (const o of forced) expect(o["container-env"]?.split(",").sort()).toEqual(["HF_TOKEN", "NCCL_DEBUG"]);
    const services = JSON.parse(readFileSync(join(d.runDir, "plan.json"), "utf8")).processes.filter(
      (p: { role: string }) => !isInfraStep(p),
    );
    expect(forced).toHaveLength(services.length);
    const nodes = nodeOf(d.runDir);
    const preloaded = new Set(requests.map((r) => r.node));
    expect(preloaded.size).toBe(nodes.size);
    expect(inQueue(d.jobId)).toBe(true);
  });
});
