import { planForTest, processesForTest, renderForTest, type TestSpec, thrownBy } from "@dyn/core/testing";
import { lintScript } from "@dyn/core/testing/lint";
import { describe, expect, it } from "vitest";
import trtllm, { engineConfig, options } from "../src/index.js";

const processes = (spec: TestSpec) => processesForTest(trtllm, spec, { srun: true });

const legacy: TestSpec = {
  options: { dynamoVersion: "0.3.2" },
  slurm: { gpusPerNode: 4 },
  roles: { prefill: { workers: 1 }, decode: { workers: 2 } },
};

describe("legacy dynamo serve (0.3.x)", () => {
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

describe("dynamo.trtllm (≥ 0.4): one MPI step per worker, one task per GPU", () => {
  it("disaggregated, default version and engine configs", () => {
    expect(
      processes({
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
          "command": "trtllm-llmapi-launch python3 -m dynamo.trtllm --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --extra-engine-args /workspace/examples/backends/trtllm/engine_configs/qwen3/prefill.yaml --disaggregation-mode prefill",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
          "srun": "nodes=0 tasksPerNode=1",
        },
        {
          "command": "trtllm-llmapi-launch python3 -m dynamo.trtllm --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --extra-engine-args /workspace/examples/backends/trtllm/engine_configs/qwen3/prefill.yaml --disaggregation-mode prefill",
          "env": {
            "CUDA_VISIBLE_DEVICES": "1",
            "DYN_SYSTEM_PORT": "{port+6}",
          },
          "id": "prefill-w1",
          "registers": "prefill",
          "srun": "nodes=0 tasksPerNode=1",
        },
        {
          "command": "trtllm-llmapi-launch python3 -m dynamo.trtllm --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --extra-engine-args /workspace/examples/backends/trtllm/engine_configs/qwen3/decode.yaml --disaggregation-mode decode",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
          },
          "id": "decode-w0",
          "registers": "tensorrt_llm",
          "srun": "nodes=1 tasksPerNode=4",
        },
      ]
    `);
  });
  it("aggregated is prefill_and_decode", () => {
    expect(
      processes({ slurm: { gpusPerNode: 4 }, roles: { aggregated: { workers: 1, gpusPerWorker: 2 } } }),
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
          "command": "trtllm-llmapi-launch python3 -m dynamo.trtllm --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --extra-engine-args /workspace/examples/backends/trtllm/engine_configs/qwen3/agg.yaml --disaggregation-mode prefill_and_decode",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0,1",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "aggregated-w0",
          "registers": "tensorrt_llm",
          "srun": "nodes=0 tasksPerNode=2",
        },
      ]
    `);
  });
  it("multi-node worker: a single step over both nodes", () => {
    expect(
      processes({
        options: { dynamoVersion: "0.5.0", decodeEngineConfig: "/configs/decode tp8.yaml" },
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
          "command": "trtllm-llmapi-launch python3 -m dynamo.trtllm --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --extra-engine-args /workspace/components/backends/trtllm/engine_configs/prefill.yaml --disaggregation-mode prefill",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
          "srun": "nodes=0 tasksPerNode=1",
        },
        {
          "command": "trtllm-llmapi-launch python3 -m dynamo.trtllm --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --extra-engine-args /configs/decode tp8.yaml --disaggregation-mode decode",
          "env": {
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
        engineConfig(r, options.parse({ dynamoVersion: v })),
      );
    expect({ "0.4.1": at("0.4.1"), "0.6.0": at("0.6.0"), "1.1.0": at("1.1.0") }).toMatchInlineSnapshot(`
      {
        "0.4.1": [
          "/workspace/components/backends/trtllm/engine_configs/prefill.yaml",
          "/workspace/components/backends/trtllm/engine_configs/decode.yaml",
          "/workspace/components/backends/trtllm/engine_configs/agg.yaml",
        ],
        "0.6.0": [
          "/workspace/recipes/qwen3/trtllm/prefill.yaml",
          "/workspace/recipes/qwen3/trtllm/decode.yaml",
          "/workspace/recipes/qwen3/trtllm/agg.yaml",
        ],
        "1.1.0": [
          "/workspace/examples/backends/trtllm/engine_configs/qwen3/prefill.yaml",
          "/workspace/examples/backends/trtllm/engine_configs/qwen3/decode.yaml",
          "/workspace/examples/backends/trtllm/engine_configs/qwen3/agg.yaml",
        ],
      }
    `);
  });
});

describe("components", () => {
  it("aliases map to the legacy classes or the dynamo.trtllm modes", () => {
    const show = (v: string) => trtllm.components(options.parse({ dynamoVersion: v }));
    expect({ legacy: show("0.3.2"), current: show("1.1.0") }).toMatchInlineSnapshot(`
      {
        "current": {
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
    legacy,
    "1.1 MPI multi-node": {
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
  it("legacy multi-node", () => {
    const e = thrownBy(() =>
      planForTest(trtllm, {
        ...legacy,
        roles: { prefill: { workers: 1, gpusPerWorker: 8 }, decode: { workers: 1 } },
      }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.prefill.gpusPerWorker" });
  });
  it("legacy has no aggregated graph deployment", () => {
    const e = thrownBy(() => planForTest(trtllm, { ...legacy, roles: { aggregated: { workers: 1 } } }));
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.aggregated" });
  });
  it("legacy ignores engine-config options, so they are refused", () => {
    const e = thrownBy(() =>
      planForTest(trtllm, { ...legacy, options: { dynamoVersion: "0.3.2", prefillEngineConfig: "/x.yaml" } }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "backend.options.prefillEngineConfig" });
  });
  it("options are strict", () => {
    expect(thrownBy(() => planForTest(trtllm, { options: { engineConfig: "/x.yaml" } }))).toMatchObject({
      code: "DYN_OPTIONS_INVALID",
    });
  });
});
