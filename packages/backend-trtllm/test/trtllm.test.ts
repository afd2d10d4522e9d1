/**
 * TensorRT-LLM commands per Dynamo release (facts: shared/reference/dynamo-releases.md and the
 * argparse tables captured at each release). One snapshot per generation × role × shape, a lint
 * run per generation, and each refusal.
 */
import { type Release, resolveRelease } from "@dyn/core";
import { planForTest, processesForTest, renderForTest, type TestSpec, thrownBy } from "@dyn/core/testing";
import { lintScript } from "@dyn/core/testing/lint";
import { describe, expect, it } from "vitest";
import trtllm, { engineConfig, options, releases, type TrtllmRelease } from "../src/index.js";

const processes = (spec: TestSpec) => processesForTest(trtllm, spec, { srun: true });
const release = (version: string): Release<TrtllmRelease> => ({
  ...resolveRelease(trtllm, releases, { version }),
  facts: releases.facts(version),
});

const legacy: TestSpec = {
  dynamo: { version: "0.3.2" },
  slurm: { gpusPerNode: 4 },
  roles: { prefill: { workers: 1 }, decode: { workers: 2 } },
};
const disagg = (version: string): TestSpec => ({
  dynamo: { version },
  slurm: { gpusPerNode: 4 },
  roles: { prefill: { workers: 1 }, decode: { workers: 1 } },
});
const agg = (version: string): TestSpec => ({
  dynamo: { version },
  slurm: { gpusPerNode: 4 },
  roles: { aggregated: { workers: 1 } },
});
/** What readiness counts, and the role flag and model flag each worker gets. */
const summary = (spec: TestSpec) =>
  processes(spec)
    .filter((p) => p.registers !== null || !p.id.startsWith("frontend"))
    .map((p) => {
      const mode = /--disaggregation-mode (\S+)/.exec(p.command)?.[1];
      const model = /(--model(?:-path)?) /.exec(p.command)?.[1];
      return `${p.id} registers=${p.registers} mode=${mode} ${model}`;
    });

describe("the release table", () => {
  it("covers every Dynamo release from 0.3.2 to 1.5.1", () => {
    expect(releases.known).toHaveLength(18);
    expect([releases.known[0], releases.newest]).toEqual(["0.3.2", "1.5.1"]);
  });
});

describe("0.3.2: the dynamo serve graph", () => {
  it("decode first: the frontend hosts a TensorRTLLMWorker", () => {
    expect(processes(legacy)).toMatchInlineSnapshot(`
      [
        {
          "command": "dynamo serve graphs.agg:Frontend -f configs/disagg.yaml --Frontend.port={port+4}",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0",
          },
          "id": "frontend-0",
          "registers": "TensorRTLLMWorker",
          "srun": "nodes=0 tasksPerNode=1",
        },
        {
          "command": "dynamo serve components.prefill_worker:TensorRTLLMPrefillWorker -f configs/disagg.yaml",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0",
          },
          "id": "prefill-w0",
          "registers": "TensorRTLLMPrefillWorker",
          "srun": "nodes=1 tasksPerNode=1",
        },
        {
          "command": "dynamo serve components.worker:TensorRTLLMWorker -f configs/disagg.yaml",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0",
          },
          "id": "decode-w1",
          "registers": "TensorRTLLMWorker",
          "srun": "nodes=2 tasksPerNode=1",
        },
      ]
    `);
  });
});

describe("dynamo.trtllm (≥ 0.4.1): one MPI step per worker, one task per GPU", () => {
  it("disaggregated, the default release and engine configs", () => {
    expect(
      processes({
        options: { decodeEngineConfig: "/configs/decode-tp4.yaml" },
        slurm: { gpusPerNode: 4 },
        roles: { prefill: { workers: 2 }, decode: { workers: 1, gpusPerWorker: 4 } },
      }),
    ).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
          "srun": "nodes=0 tasksPerNode=1",
        },
        {
          "command": "trtllm-llmapi-launch python3 -m dynamo.trtllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --extra-engine-args /workspace/examples/backends/trtllm/engine_configs/qwen3/prefill.yaml --disaggregation-mode prefill --tensor-parallel-size 1",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
          "srun": "nodes=0 tasksPerNode=1",
        },
        {
          "command": "trtllm-llmapi-launch python3 -m dynamo.trtllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --extra-engine-args /workspace/examples/backends/trtllm/engine_configs/qwen3/prefill.yaml --disaggregation-mode prefill --tensor-parallel-size 1",
          "env": {
            "CUDA_VISIBLE_DEVICES": "1",
            "DYN_SYSTEM_PORT": "{port+6}",
          },
          "id": "prefill-w1",
          "registers": "prefill",
          "srun": "nodes=0 tasksPerNode=1",
        },
        {
          "command": "trtllm-llmapi-launch python3 -m dynamo.trtllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --extra-engine-args /configs/decode-tp4.yaml --disaggregation-mode decode --tensor-parallel-size 4",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
          },
          "id": "decode-w0",
          "registers": "backend",
          "srun": "nodes=1 tasksPerNode=4",
        },
      ]
    `);
  });

  it("aggregated: agg from 1.3.0 (prefill_and_decode before), registering as backend", () => {
    expect(processes({ ...agg("1.5.1"), roles: { aggregated: { workers: 1 } } })).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
          "srun": "nodes=0 tasksPerNode=1",
        },
        {
          "command": "trtllm-llmapi-launch python3 -m dynamo.trtllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --extra-engine-args /workspace/examples/backends/trtllm/engine_configs/qwen3/agg.yaml --disaggregation-mode agg --tensor-parallel-size 1",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "aggregated-w0",
          "registers": "backend",
          "srun": "nodes=0 tasksPerNode=1",
        },
      ]
    `);
    expect(summary(agg("1.2.1"))).toEqual([
      "aggregated-w0 registers=tensorrt_llm mode=prefill_and_decode --model",
    ]);
    expect(summary(agg("1.3.0"))).toEqual(["aggregated-w0 registers=backend mode=agg --model"]);
  });

  it("registration names and flags per release", () => {
    const at = (v: string) => summary(disagg(v));
    expect({
      "0.4.1": at("0.4.1"),
      "0.6.1": at("0.6.1"),
      "0.9.0": at("0.9.0"),
      "1.0.0": at("1.0.0"),
      "1.3.0": at("1.3.0"),
    }).toEqual({
      // decode_first: the decode (first) worker is tensorrt_llm, the prefill (next) tensorrt_llm_next.
      "0.4.1": [
        "prefill-w0 registers=tensorrt_llm_next mode=prefill --model-path",
        "decode-w0 registers=tensorrt_llm mode=decode --model-path",
      ],
      "0.6.1": [
        "prefill-w0 registers=tensorrt_llm_next mode=prefill --model-path",
        "decode-w0 registers=tensorrt_llm mode=decode --model-path",
      ],
      // The strategy flag is gone: prefill registers as prefill.
      "0.9.0": [
        "prefill-w0 registers=prefill mode=prefill --model-path",
        "decode-w0 registers=tensorrt_llm mode=decode --model-path",
      ],
      // --model-path is deprecated for --model.
      "1.0.0": [
        "prefill-w0 registers=prefill mode=prefill --model",
        "decode-w0 registers=tensorrt_llm mode=decode --model",
      ],
      // #9766: decode (and agg) register as backend.
      "1.3.0": [
        "prefill-w0 registers=prefill mode=prefill --model",
        "decode-w0 registers=backend mode=decode --model",
      ],
    });
    expect(planForTest(trtllm, disagg("0.4.1")).expected).toEqual({ tensorrt_llm_next: 1, tensorrt_llm: 1 });
  });

  it("multi-node worker: a single step over both nodes, TP over all its GPUs, --gpus-per-node", () => {
    expect(
      processes({
        dynamo: { version: "0.6.1" },
        options: { decodeEngineConfig: "/configs/decode tp8.yaml" },
        slurm: { gpusPerNode: 4 },
        roles: { prefill: { workers: 1 }, decode: { workers: 1, gpusPerWorker: 8 } },
      }),
    ).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
          "srun": "nodes=0 tasksPerNode=1",
        },
        {
          "command": "trtllm-llmapi-launch python3 -m dynamo.trtllm --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --extra-engine-args /workspace/recipes/qwen3/trtllm/prefill.yaml --disaggregation-mode prefill --tensor-parallel-size 1",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0",
            "DYN_SYSTEM_ENABLED": "true",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0",
          "registers": "tensorrt_llm_next",
          "srun": "nodes=0 tasksPerNode=1",
        },
        {
          "command": "trtllm-llmapi-launch python3 -m dynamo.trtllm --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --extra-engine-args /configs/decode tp8.yaml --disaggregation-mode decode --tensor-parallel-size 8 --gpus-per-node 4",
          "env": {
            "DYN_SYSTEM_ENABLED": "true",
            "DYN_SYSTEM_PORT": "{port+0}",
          },
          "id": "decode-w0",
          "registers": "tensorrt_llm",
          "srun": "nodes=1,2 tasksPerNode=4",
        },
      ]
    `);
  });

  it("engine config defaults by release", () => {
    const at = (v: string) =>
      (["prefill", "decode", "aggregated"] as const).map((r) =>
        engineConfig(r, options.parse({}), releases.facts(v)),
      );
    expect({
      "0.4.1": at("0.4.1"),
      "0.6.1": at("0.6.1"),
      "0.9.0": at("0.9.0"),
      "1.5.1": at("1.5.1"),
    }).toMatchInlineSnapshot(`
      {
        "0.4.1": [
          "/workspace/components/backends/trtllm/engine_configs/prefill.yaml",
          "/workspace/components/backends/trtllm/engine_configs/decode.yaml",
          "/workspace/components/backends/trtllm/engine_configs/agg.yaml",
        ],
        "0.6.1": [
          "/workspace/recipes/qwen3/trtllm/prefill.yaml",
          "/workspace/recipes/qwen3/trtllm/decode.yaml",
          "/workspace/recipes/qwen3/trtllm/agg.yaml",
        ],
        "0.9.0": [
          "/workspace/examples/backends/trtllm/engine_configs/qwen3/prefill.yaml",
          "/workspace/examples/backends/trtllm/engine_configs/qwen3/decode.yaml",
          "/workspace/examples/backends/trtllm/engine_configs/qwen3/agg.yaml",
        ],
        "1.5.1": [
          "/workspace/examples/backends/trtllm/engine_configs/qwen3/prefill.yaml",
          "/workspace/examples/backends/trtllm/engine_configs/qwen3/decode.yaml",
          "/workspace/examples/backends/trtllm/engine_configs/qwen3/agg.yaml",
        ],
      }
    `);
    expect(
      engineConfig("decode", options.parse({ decodeEngineConfig: "/mine.yaml" }), releases.facts("1.5.1")),
    ).toBe("/mine.yaml");
  });

  it("the default split fills the nodes with single-GPU workers (the example engine configs are TP 1)", () => {
    const split = (spec: TestSpec) =>
      planForTest(trtllm, spec).groups.map((g) => `${g.role} ${g.workers}×${g.gpusPerWorker}`);
    expect(split({ slurm: { nodes: 2, gpusPerNode: 4 } })).toEqual(["prefill 4×1", "decode 4×1"]);
    expect(split({ slurm: { nodes: 1, gpusPerNode: 4 } })).toEqual(["prefill 2×1", "decode 2×1"]);
    expect(split({})).toEqual(["prefill 1×1", "decode 1×1"]);
  });
});

describe("components", () => {
  it("aliases map to the legacy classes or the dynamo.trtllm modes", () => {
    const show = (v: string) => trtllm.components(options.parse({}), release(v));
    expect({ legacy: show("0.3.2"), "1.2.1": show("1.2.1"), "1.3.0": show("1.3.0") }).toMatchInlineSnapshot(`
      {
        "1.2.1": {
          "aggregated": {
            "alias": "TrtllmWorker",
            "dynamo": "dynamo.trtllm --disaggregation-mode prefill_and_decode",
            "health": "tensorrt_llm",
          },
          "decode": {
            "alias": "TrtllmDecodeWorker",
            "dynamo": "dynamo.trtllm --disaggregation-mode decode",
            "health": "tensorrt_llm",
          },
          "prefill": {
            "alias": "TrtllmPrefillWorker",
            "dynamo": "dynamo.trtllm --disaggregation-mode prefill",
            "health": "prefill",
          },
        },
        "1.3.0": {
          "aggregated": {
            "alias": "TrtllmWorker",
            "dynamo": "dynamo.trtllm --disaggregation-mode agg",
            "health": "backend",
          },
          "decode": {
            "alias": "TrtllmDecodeWorker",
            "dynamo": "dynamo.trtllm --disaggregation-mode decode",
            "health": "backend",
          },
          "prefill": {
            "alias": "TrtllmPrefillWorker",
            "dynamo": "dynamo.trtllm --disaggregation-mode prefill",
            "health": "prefill",
          },
        },
        "legacy": {
          "decode": {
            "alias": "TrtllmDecodeWorker",
            "dynamo": "dynamo serve components.worker:TensorRTLLMWorker (the first one inside graphs.agg:Frontend)",
            "health": "TensorRTLLMWorker",
          },
          "prefill": {
            "alias": "TrtllmPrefillWorker",
            "dynamo": "dynamo serve components.prefill_worker:TensorRTLLMPrefillWorker",
            "health": "TensorRTLLMPrefillWorker",
          },
        },
      }
    `);
  });
});

describe("rendered scripts", () => {
  const shapes: Record<string, TestSpec> = {
    "0.3.2 graph": legacy,
    "0.4.1 module": disagg("0.4.1"),
    "1.5.1 MPI multi-node": {
      options: { prefillEngineConfig: "/cfg/prefill-tp2.yaml", decodeEngineConfig: "/cfg/decode-tp8.yaml" },
      slurm: { gpusPerNode: 4, mpi: "pmix" },
      roles: { prefill: { workers: 2, gpusPerWorker: 2 }, decode: { workers: 1, gpusPerWorker: 8 } },
    },
  };
  for (const [name, spec] of Object.entries(shapes)) {
    it(`${name}: bash -n and shellcheck clean`, () => {
      const script = renderForTest(trtllm, spec);
      expect(lintScript(script)).toEqual({ bash: "", shellcheck: "" });
    });
  }
});

describe("unsupported combinations", () => {
  it("a multi-GPU worker on the single-GPU example engine config", () => {
    const e = thrownBy(() =>
      planForTest(trtllm, {
        ...disagg("1.5.1"),
        roles: { prefill: { workers: 1 }, decode: { workers: 1, gpusPerWorker: 4 } },
      }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "backend.options.decodeEngineConfig" });
    expect(String(e)).toContain(
      "decode workers use 4 GPUs but the default engine config /workspace/examples/backends/trtllm/engine_configs/qwen3/decode.yaml is single-GPU",
    );
  });
  it("0.3.2 multi-node", () => {
    const e = thrownBy(() =>
      planForTest(trtllm, {
        ...legacy,
        roles: { prefill: { workers: 1, gpusPerWorker: 8 }, decode: { workers: 1 } },
      }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.prefill.gpusPerWorker" });
    expect(String(e)).toContain("Dynamo 0.3.2");
  });
  it("0.3.2 has no aggregated graph deployment", () => {
    const e = thrownBy(() => planForTest(trtllm, { ...legacy, roles: { aggregated: { workers: 1 } } }));
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.aggregated" });
  });
  it("0.3.2 ignores engine-config options, so they are refused", () => {
    const e = thrownBy(() => planForTest(trtllm, { ...legacy, options: { prefillEngineConfig: "/x.yaml" } }));
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "backend.options.prefillEngineConfig" });
    expect(String(e)).toContain("Dynamo 0.3.2 takes engine configs from the graph config");
  });
  it("the tensorrtllm-runtime image chooses the release; another backend's image is refused", () => {
    const image = (img: string) => ({
      ...agg("1.0.0"),
      dynamo: {},
      container: { kind: "pyxis" as const, image: img },
    });
    expect(
      planForTest(trtllm, image("nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:1.2.1")).release.version,
    ).toBe("1.2.1");
    expect(
      thrownBy(() => planForTest(trtllm, image("nvcr.io#nvidia/ai-dynamo/sglang-runtime:1.2.1"))),
    ).toMatchObject({
      code: "DYN_UNSUPPORTED",
      key: "container.image",
    });
  });
  it("options are strict; dynamoVersion is gone", () => {
    expect(thrownBy(() => planForTest(trtllm, { options: { engineConfig: "/x.yaml" } }))).toMatchObject({
      code: "DYN_OPTIONS_INVALID",
    });
    expect(thrownBy(() => planForTest(trtllm, { options: { dynamoVersion: "1.1.0" } }))).toMatchObject({
      code: "DYN_OPTIONS_INVALID",
      key: "backend.options.dynamoVersion",
    });
  });
});
