/**
 * Deployment shapes on the real testbed: workers spanning two nodes (per-node ranks for SGLang and
 * vLLM, one MPI-style step for TRT-LLM), four workers packed on one node with disjoint GPUs.
 * Containers (real pyxis) are in containers.test.ts.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { chat, deploy, health, newRunsDir, stopDeployed } from "./harness.js";

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
    // The engine YAML's parallelism wins inside TensorRT-LLM: one with TP 4 for the 4-GPU worker.
    const config = join(newRunsDir("tp4"), "agg.yaml");
    writeFileSync(config, "tensor_parallel_size: 4\npipeline_parallel_size: 1\n");
    const d = await deployReady("span-trtllm", [
      "--backend",
      "trtllm",
      "-o",
      `aggregatedEngineConfig=${config}`,
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
