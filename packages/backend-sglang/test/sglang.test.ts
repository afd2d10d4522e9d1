import { planForTest, processesForTest, renderForTest, type TestSpec, thrownBy } from "@dyn/core/testing";
import { lintScript } from "@dyn/core/testing/lint";
import { describe, expect, it } from "vitest";
import sglang, { options } from "../src/index.js";

const processes = (spec: TestSpec) => processesForTest(sglang, spec);

const disagg = (version: string): TestSpec => ({
  options: { dynamoVersion: version },
  slurm: { gpusPerNode: 4 },
  roles: { prefill: { workers: 1 }, decode: { workers: 1 } },
});

describe("legacy dynamo serve (0.3.x)", () => {
  it("the frontend hosts the prefill-mode SGLangWorker", () => {
    expect(
      processes({ ...disagg("0.3.2"), roles: { prefill: { workers: 2 }, decode: { workers: 1 } } }),
    ).toMatchInlineSnapshot(`
        [
          {
            "command": "dynamo serve graphs.agg:Frontend -f configs/disagg.yaml --Frontend.port={port+4}",
            "env": {},
            "id": "frontend-0",
            "registers": "SGLangWorker",
          },
          {
            "command": "dynamo serve components.worker:SGLangWorker -f configs/disagg.yaml",
            "env": {},
            "id": "prefill-w1",
            "registers": "SGLangWorker",
          },
          {
            "command": "dynamo serve components.decode_worker:SGLangDecodeWorker -f configs/disagg.yaml",
            "env": {},
            "id": "decode-w0",
            "registers": "SGLangDecodeWorker",
          },
        ]
      `);
  });
});

describe("0.4.0: split modules", () => {
  const show = (spec: TestSpec) => processes(spec).map((p) => `${p.registers ?? "-"}: ${p.command}`);
  it("dynamo.sglang.worker (prefill) registers as worker, dynamo.sglang.decode_worker as decode", () => {
    expect(show(disagg("0.4.0"))).toMatchInlineSnapshot(`
      [
        "-: python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
        "worker: python3 -m dynamo.sglang.worker --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp 4 --host 0.0.0.0 --port {port+6} --nccl-port {port+7} --disaggregation-mode prefill --disaggregation-transfer-backend nixl --disaggregation-bootstrap-port {port+8}",
        "decode: python3 -m dynamo.sglang.decode_worker --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp 4 --host 0.0.0.0 --port {port+1} --nccl-port {port+2} --disaggregation-mode decode --disaggregation-transfer-backend nixl",
      ]
    `);
  });
  it("aggregated: dynamo.sglang.worker without disaggregation flags registers as worker", () => {
    expect(
      show({
        options: { dynamoVersion: "0.4.0" },
        slurm: { gpusPerNode: 4 },
        roles: { aggregated: { workers: 1 } },
      }),
    ).toMatchInlineSnapshot(`
      [
        "-: python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
        "worker: python3 -m dynamo.sglang.worker --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp 4 --host 0.0.0.0 --port {port+6} --nccl-port {port+7}",
      ]
    `);
  });
});

describe("≥ 0.4.1: unified dynamo.sglang", () => {
  it("disaggregated, NIXL, bootstrap port on prefill (the default version)", () => {
    expect(processes({ ...disagg("1.1.0"), options: { trustRemoteCode: true } })).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp 4 --host 0.0.0.0 --port {port+6} --nccl-port {port+7} --trust-remote-code --disaggregation-mode prefill --disaggregation-transfer-backend nixl --disaggregation-bootstrap-port {port+8}",
          "env": {
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp 4 --host 0.0.0.0 --port {port+1} --nccl-port {port+2} --trust-remote-code --disaggregation-mode decode --disaggregation-transfer-backend nixl",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
          },
          "id": "decode-w0",
          "registers": "backend",
        },
      ]
    `);
  });
  it("aggregated: no disaggregation flags", () => {
    expect(
      processes({ slurm: { gpusPerNode: 4 }, roles: { aggregated: { workers: 1, gpusPerWorker: 2 } } }),
    ).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp 2 --host 0.0.0.0 --port {port+6} --nccl-port {port+7}",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0,1",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "aggregated-w0",
          "registers": "backend",
        },
      ]
    `);
  });
  it("multi-node prefill: one process per node sharing --dist-init-addr, rank 0 registers", () => {
    expect(
      processes({
        options: { dynamoVersion: "0.5.0", transferBackend: "mooncake" },
        slurm: { gpusPerNode: 4 },
        roles: { prefill: { workers: 1, gpusPerWorker: 8 }, decode: { workers: 1 } },
      }),
    ).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp 8 --host 0.0.0.0 --port {port+6} --nccl-port {port+7} --disaggregation-mode prefill --disaggregation-transfer-backend mooncake --disaggregation-bootstrap-port {port+8} --dist-init-addr \${DYN_NODE_IP_0}:{port+9} --nnodes 2 --node-rank 0",
          "env": {
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0-r0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp 8 --host 0.0.0.0 --port {port+6} --nccl-port {port+7} --disaggregation-mode prefill --disaggregation-transfer-backend mooncake --disaggregation-bootstrap-port {port+8} --dist-init-addr \${DYN_NODE_IP_0}:{port+9} --nnodes 2 --node-rank 1",
          "env": {
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0-r1",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp 4 --host 0.0.0.0 --port {port+1} --nccl-port {port+2} --disaggregation-mode decode --disaggregation-transfer-backend mooncake",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
          },
          "id": "decode-w0",
          "registers": "backend",
        },
      ]
    `);
  });
});

describe("components", () => {
  it("names by generation", () => {
    const show = (v: string) => sglang.components(options.parse({ dynamoVersion: v }));
    expect({ legacy: show("0.3.2"), split: show("0.4.0"), unified: show("0.4.1") }).toMatchInlineSnapshot(`
      {
        "legacy": {
          "decode": {
            "alias": "SGLangDecodeWorker",
            "dynamo": "dynamo serve components.decode_worker:SGLangDecodeWorker",
            "health": "SGLangDecodeWorker",
          },
          "prefill": {
            "alias": "SGLangPrefillWorker",
            "dynamo": "dynamo serve components.worker:SGLangWorker (prefill mode; the first one inside graphs.agg:Frontend)",
            "health": "SGLangWorker",
          },
        },
        "split": {
          "aggregated": {
            "alias": "SGLangWorker",
            "dynamo": "dynamo.sglang.worker",
            "health": "worker",
          },
          "decode": {
            "alias": "SGLangDecodeWorker",
            "dynamo": "dynamo.sglang.decode_worker --disaggregation-mode decode",
            "health": "decode",
          },
          "prefill": {
            "alias": "SGLangPrefillWorker",
            "dynamo": "dynamo.sglang.worker --disaggregation-mode prefill",
            "health": "worker",
          },
        },
        "unified": {
          "aggregated": {
            "alias": "SGLangWorker",
            "dynamo": "dynamo.sglang",
            "health": "backend",
          },
          "decode": {
            "alias": "SGLangDecodeWorker",
            "dynamo": "dynamo.sglang --disaggregation-mode decode",
            "health": "backend",
          },
          "prefill": {
            "alias": "SGLangPrefillWorker",
            "dynamo": "dynamo.sglang --disaggregation-mode prefill",
            "health": "prefill",
          },
        },
      }
    `);
  });
});

describe("rendered scripts", () => {
  const shapes: Record<string, TestSpec> = {
    legacy: disagg("0.3.2"),
    "0.4.0 split": disagg("0.4.0"),
    "1.1 multi-node": {
      slurm: { gpusPerNode: 4 },
      roles: { prefill: { workers: 1, gpusPerWorker: 8 }, decode: { workers: 2, gpusPerWorker: 2 } },
    },
  };
  for (const [name, spec] of Object.entries(shapes)) {
    it(`${name}: bash -n and shellcheck clean`, () => {
      const script = renderForTest(sglang, spec);
      expect(lintScript(script)).toEqual({ bash: "", shellcheck: "" });
    });
  }
});

describe("unsupported combinations", () => {
  it("legacy multi-node", () => {
    const e = thrownBy(() =>
      planForTest(sglang, {
        ...disagg("0.3.2"),
        roles: { prefill: { workers: 1 }, decode: { workers: 1, gpusPerWorker: 8 } },
      }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.decode.gpusPerWorker" });
  });
  it("legacy has no aggregated graph deployment", () => {
    const e = thrownBy(() =>
      planForTest(sglang, { ...disagg("0.3.2"), roles: { aggregated: { workers: 1 } } }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.aggregated" });
  });
  it("legacy takes engine settings from the graph config, so options that set them are refused", () => {
    const legacy = (extra: Record<string, unknown>) =>
      thrownBy(() =>
        planForTest(sglang, { ...disagg("0.3.2"), options: { dynamoVersion: "0.3.2", ...extra } }),
      );
    expect(legacy({ transferBackend: "mooncake" })).toMatchObject({
      code: "DYN_UNSUPPORTED",
      key: "backend.options.transferBackend",
    });
    expect(legacy({ trustRemoteCode: true })).toMatchObject({
      code: "DYN_UNSUPPORTED",
      key: "backend.options.trustRemoteCode",
    });
  });
  it("options are strict", () => {
    expect(thrownBy(() => planForTest(sglang, { options: { transferBackend: "ucx" } }))).toMatchObject({
      code: "DYN_OPTIONS_INVALID",
    });
  });
});
