/**
 * The release matrix on the testbed: each backend deployed to ready and answering a chat request
 * across nodes on its oldest current-style release, a 1.2.x, a 1.3.x and 1.5.1 (TRT-LLM: 0.4.1
 * disaggregated, whose prefill registers as tensorrt_llm_next; 1.3.0 aggregated; 1.5.1
 * disaggregated), plus SGLang 0.3.2's script form. The stand-in impersonates the release
 * (DYN_STANDIN_VERSION) and parses with that release's captured argparse tables, so a flag the
 * release does not have fails the deployment.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chat, deploy, dyn, health, repo, SMALL, standinEnv, statusEvents, stopDeployed } from "./harness.js";

const workspace = join(repo, "testbed/runtime/workspace");
/** Bare metal: the engine configs and examples live in the stand-in's copy of /workspace. */
const trtllmConfigs = (dir: string) => [
  "-o",
  `prefillEngineConfig=${workspace}/${dir}/prefill.yaml`,
  "-o",
  `decodeEngineConfig=${workspace}/${dir}/decode.yaml`,
  "-o",
  `aggregatedEngineConfig=${workspace}/${dir}/agg.yaml`,
];
const AGG = ["--aggregated-workers", "2", "--gpus-per-aggregated", "1"];

const cases: Array<{
  backend: string;
  release: string;
  shape: string[];
  extra?: string[];
  registers: string[];
}> = [
  { backend: "vllm", release: "0.4.1", shape: SMALL, registers: ["backend", "prefill"] },
  { backend: "vllm", release: "1.2.1", shape: SMALL, registers: ["backend", "prefill"] },
  { backend: "vllm", release: "1.3.0", shape: AGG, registers: ["backend"] },
  { backend: "vllm", release: "1.5.1", shape: SMALL, registers: ["backend", "prefill"] },
  {
    backend: "sglang",
    release: "0.3.2",
    shape: SMALL,
    extra: ["-o", `exampleDir=${workspace}/examples/sglang`],
    registers: ["decode", "worker"],
  },
  { backend: "sglang", release: "0.4.1", shape: SMALL, registers: ["backend", "prefill"] },
  { backend: "sglang", release: "1.2.0", shape: SMALL, registers: ["backend", "prefill"] },
  { backend: "sglang", release: "1.3.1", shape: AGG, registers: ["backend"] },
  { backend: "sglang", release: "1.5.1", shape: SMALL, registers: ["backend", "prefill"] },
  {
    backend: "trtllm",
    release: "0.4.1",
    shape: SMALL,
    extra: trtllmConfigs("components/backends/trtllm/engine_configs"),
    registers: ["tensorrt_llm", "tensorrt_llm_next"],
  },
  {
    backend: "trtllm",
    release: "1.2.1",
    shape: SMALL,
    extra: trtllmConfigs("examples/backends/trtllm/engine_configs/qwen3"),
    registers: ["prefill", "tensorrt_llm"],
  },
  {
    backend: "trtllm",
    release: "1.3.0",
    shape: AGG,
    extra: trtllmConfigs("examples/backends/trtllm/engine_configs/qwen3"),
    registers: ["backend"],
  },
  {
    backend: "trtllm",
    release: "1.5.1",
    shape: SMALL,
    extra: trtllmConfigs("examples/backends/trtllm/engine_configs/qwen3"),
    registers: ["backend", "prefill"],
  },
];

afterAll(async () => {
  expect(await stopDeployed()).toEqual([]);
});

describe.each(cases)("$backend $release", ({ backend, release, shape, extra, registers }) => {
  it("becomes ready under the release's names and answers a chat request", async () => {
    const env = standinEnv({ DYN_STANDIN_VERSION: release });
    const args = ["--backend", backend, "--dynamo-version", release, ...shape, ...(extra ?? [])];
    const { run, d } = await deploy(`${backend}-${release}`, args, { env });
    expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
    const url = d.wait.url as string;
    const components = [...new Set((await health(url)).instances.map((i) => i.component))].sort();
    expect(components).toEqual(registers);
    // The token gate saw each role handle its request (0.3.2: no counters, said so).
    const smoke = statusEvents(d.runDir).find((e) => e.event === "smoke");
    if (release === "0.3.2")
      expect(smoke?.handled_skipped).toMatch(/^Dynamo 0\.3\.2 workers export no request counter/);
    else expect(smoke?.handled).toEqual(shape === AGG ? { aggregated: 1 } : { prefill: 1, decode: 1 });
    const answer = await chat(url, d.plan.spec.model.path);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    // The stand-in says at start which release it impersonates.
    expect(readFileSync(join(d.runDir, "logs/frontend-0.log"), "utf8")).toContain(release);
    const stop = await dyn(["stop", d.jobId], { env });
    expect(stop.code).toBe(0);
  });
});
