/**
 * The built-in backends against the argparse tables captured at each Dynamo release. Every release ×
 * standard shape is planned, rendered and checked by the conformance kit in each backend's own tests
 * (packages/backend-{vllm,sglang,trtllm}/test/conformance.test.ts); here: each declares exactly the captured releases,
 * the kit's copy of the tables is the testbed's, and the release facts the tables do not show.
 */

import { readFileSync } from "node:fs";
import sglang from "@dyn/backend-sglang";
import trtllm from "@dyn/backend-trtllm";
import vllm from "@dyn/backend-vllm";
import { type Backend, isInfraStep, type Plan, showArg } from "@dyn/core";
import { planForTest, type TestSpec, thrownBy } from "@dyn/core/testing";
import { describe, expect, it } from "vitest";
import { tables } from "./flag-tables.js";

const ENGINE = {
  prefillEngineConfig: "/cfg/prefill.yaml",
  decodeEngineConfig: "/cfg/decode.yaml",
  aggregatedEngineConfig: "/cfg/agg.yaml",
};
const PACKED: TestSpec = {
  slurm: { gpusPerNode: 8 },
  roles: { prefill: { workers: 4, gpusPerWorker: 2 }, decode: { workers: 4, gpusPerWorker: 2 } },
  options: ENGINE,
};
const BACKENDS = [vllm, sglang, trtllm] as unknown as Backend[];

function planAt(b: Backend, version: string, spec: TestSpec): Plan {
  return planForTest(b, { ...spec, dynamo: { version } });
}

const argvOf = (p: Plan) =>
  p.steps.filter((s) => !isInfraStep(s)).map((s) => ({ id: s.id, step: s, argv: s.argv.map(showArg) }));

describe.each(BACKENDS.map((b) => [b.name, b] as const))("%s", (_name, backend) => {
  it("declares every release of the captured tables", () => {
    expect([...(backend.releases?.known ?? [])]).toEqual(Object.keys(tables.releases));
    expect(backend.releases?.newest).toBe("1.5.1");
  });
});

describe("the kit's flag tables", () => {
  it("are the testbed's (testbed/runtime/flags/releases.json), flag for flag", () => {
    const testbed = JSON.parse(
      readFileSync(new URL("../../../testbed/runtime/flags/releases.json", import.meta.url), "utf8"),
    ) as {
      releases: Record<string, { components: Record<string, { flags: Array<Record<string, unknown>> }> }>;
    };
    const pick = (f: Record<string, unknown>) => ({
      names: f.names,
      takesValue: f.takesValue,
      choices: (f.choices as unknown[] | null)?.map(String) ?? null,
      nargs: f.nargs,
      deprecated: f.deprecated,
      releaseUncertain: f.releaseUncertain,
    });
    const shape = (t: typeof testbed) =>
      Object.fromEntries(
        Object.entries(t.releases).map(([r, { components }]) => [
          r,
          Object.fromEntries(Object.entries(components).map(([c, { flags }]) => [c, flags.map(pick)])),
        ]),
      );
    expect(shape(tables as unknown as typeof testbed)).toEqual(shape(testbed));
  });
});

describe("release facts the tables do not show", () => {
  const tp = (p: Plan, id: string) => {
    const argv = argvOf(p).find((s) => s.id === id)?.argv ?? [];
    return argv[argv.indexOf("--tensor-parallel-size") + 1];
  };
  it("TRT-LLM: tensor parallelism equals the worker's GPUs, one MPI rank per GPU", () => {
    const p = planAt(trtllm as unknown as Backend, "1.5.1", PACKED);
    expect(tp(p, "prefill-w0")).toBe("2");
    expect(p.steps.find((s) => s.id === "prefill-w0")?.tasksPerNode).toBe(2);
  });
  it("TRT-LLM: a multi-GPU worker on the single-GPU example engine config is refused", () => {
    const err = thrownBy(() =>
      planAt(trtllm as unknown as Backend, "1.5.1", {
        roles: { aggregated: { workers: 1, gpusPerWorker: 4 } },
      }),
    );
    expect(String(err)).toMatch(/aggregatedEngineConfig: .*single-GPU/);
  });
  it("TRT-LLM registration names and aggregated mode per release", () => {
    const names = (v: string) =>
      Object.fromEntries(
        planAt(trtllm as unknown as Backend, v, {}).groups.map((g) => [g.role, g.component]),
      );
    expect(names("0.4.1")).toEqual({ prefill: "tensorrt_llm_next", decode: "tensorrt_llm" });
    expect(names("0.9.0")).toEqual({ prefill: "prefill", decode: "tensorrt_llm" });
    expect(names("1.3.0")).toEqual({ prefill: "prefill", decode: "backend" });
    const agg = (v: string) => {
      const argv =
        argvOf(planAt(trtllm as unknown as Backend, v, { roles: { aggregated: { workers: 2 } } }))[1]?.argv ??
        [];
      return argv[argv.indexOf("--disaggregation-mode") + 1];
    };
    expect(agg("1.2.1")).toBe("prefill_and_decode");
    expect(agg("1.4.0")).toBe("agg");
  });
  it("vLLM: prefill and decode carry the NIXL --kv-transfer-config from 1.0.0 only", () => {
    const has = (v: string) =>
      argvOf(planAt(vllm as unknown as Backend, v, {})).map((s) => s.argv.includes("--kv-transfer-config"));
    expect(has("0.9.0")).toEqual([false, false, false]);
    expect(has("1.0.0")).toEqual([false, true, true]);
  });
  it("vLLM: the NIXL side channel is set only where the worker reads it (0.9.0+)", () => {
    const env = (v: string) =>
      planAt(vllm as unknown as Backend, v, {}).steps.find((s) => s.id === "prefill-w0")?.env ?? {};
    expect(env("0.6.1")).not.toHaveProperty("VLLM_NIXL_SIDE_CHANNEL_HOST");
    expect(env("1.1.0")).toHaveProperty("VLLM_NIXL_SIDE_CHANNEL_HOST");
  });
  it("DYN_SYSTEM_ENABLED=true where the release reads DYN_SYSTEM_PORT only with it (0.4.1, 0.6.1)", () => {
    const env = (v: string) =>
      planAt(sglang as unknown as Backend, v, {}).steps.find((s) => s.id === "decode-w0")?.env ?? {};
    expect(env("0.6.1")).toMatchObject({ DYN_SYSTEM_ENABLED: "true" });
    expect(env("0.9.0")).not.toHaveProperty("DYN_SYSTEM_ENABLED");
  });
  it("SGLang 0.3.2 runs the example scripts behind dynamo run, not a dynamo serve graph", () => {
    const p = planAt(sglang as unknown as Backend, "0.3.2", {});
    const steps = argvOf(p);
    expect(steps.map((s) => s.argv.slice(0, 4).join(" "))).toEqual([
      expect.stringMatching(/^dynamo run in=http out=dyn/),
      "python3 components/worker.py --model-path Qwen/Qwen3-0.6B",
      "python3 components/decode_worker.py --model-path Qwen/Qwen3-0.6B",
    ]);
    expect(steps[1]?.step.cwd).toBe("/workspace/examples/sglang");
    expect(p.expected).toEqual({ worker: 1, decode: 1 });
  });
  it("NATS: refused where required, never exported when off, zmq event plane on 1.0–1.2", () => {
    const off = { infra: { nats: { mode: "off" as const } } };
    expect(String(thrownBy(() => planAt(vllm as unknown as Backend, "0.9.0", off)))).toMatch(
      /Dynamo 0\.9\.0 cannot run without NATS/,
    );
    for (const [v, plane] of [
      ["1.2.1", "zmq"],
      ["1.3.0", undefined],
    ] as const) {
      const env =
        planAt(vllm as unknown as Backend, v, off).steps.find((s) => s.id === "decode-w0")?.env ?? {};
      expect(env).not.toHaveProperty("NATS_SERVER");
      expect(env.DYN_EVENT_PLANE).toBe(plane);
    }
  });
  it("etcd off only with the file discovery backend on a single node", () => {
    const off = { infra: { etcd: { mode: "off" as const } } };
    expect(String(thrownBy(() => planAt(vllm as unknown as Backend, "1.5.1", off)))).toMatch(
      /DYN_DISCOVERY_BACKEND/,
    );
    const oneNode = {
      ...off,
      env: { DYN_DISCOVERY_BACKEND: "file" },
      slurm: { gpusPerNode: 2 },
      roles: {
        colocate: true,
        prefill: { workers: 1, gpusPerWorker: 1 },
        decode: { workers: 1, gpusPerWorker: 1 },
      },
    };
    expect(planAt(vllm as unknown as Backend, "1.5.1", oneNode).nodes).toBe(1);
    expect(String(thrownBy(() => planAt(vllm as unknown as Backend, "0.9.0", oneNode)))).toMatch(
      /not a discovery backend of Dynamo 0\.9\.0/,
    );
    expect(
      String(
        thrownBy(() =>
          planAt(vllm as unknown as Backend, "1.5.1", { ...off, env: { DYN_DISCOVERY_BACKEND: "file" } }),
        ),
      ),
    ).toMatch(/single-machine/);
  });
});
