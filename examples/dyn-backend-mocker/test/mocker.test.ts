import { assertBackend } from "@dyn/core";
import { planForTest, processesForTest, renderForTest, type TestSpec } from "@dyn/core/testing";
import { lintScript } from "@dyn/core/testing/lint";
import { describe, expect, it } from "vitest";
import mocker from "../src/index.js";

const processes = (spec: TestSpec) => processesForTest(mocker, spec);

describe("dyn-backend-mocker", () => {
  it("is a valid backend for this contract", () => {
    expect(assertBackend(mocker, "dyn-backend-mocker").name).toBe("mocker");
  });

  it("disaggregated: prefill and decode mockers, one GPU slot each", () => {
    expect(
      processes({
        options: { speedupRatio: 10, numGpuBlocks: 4096 },
        roles: { prefill: { workers: 1 }, decode: { workers: 2 } },
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
          "command": "python3 -m dynamo.mocker --model-path Qwen/Qwen3-0.6B --model-name Qwen/Qwen3-0.6B --disaggregation-mode prefill --speedup-ratio 10 --num-gpu-blocks-override 4096 --bootstrap-ports {port+6}",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.mocker --model-path Qwen/Qwen3-0.6B --model-name Qwen/Qwen3-0.6B --disaggregation-mode decode --speedup-ratio 10 --num-gpu-blocks-override 4096",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0",
            "DYN_SYSTEM_PORT": "{port+0}",
          },
          "id": "decode-w0",
          "registers": "backend",
        },
        {
          "command": "python3 -m dynamo.mocker --model-path Qwen/Qwen3-0.6B --model-name Qwen/Qwen3-0.6B --disaggregation-mode decode --speedup-ratio 10 --num-gpu-blocks-override 4096",
          "env": {
            "CUDA_VISIBLE_DEVICES": "1",
            "DYN_SYSTEM_PORT": "{port+1}",
          },
          "id": "decode-w1",
          "registers": "backend",
        },
      ]
    `);
  });

  it("aggregated, with the user's extra args last", () => {
    expect(
      processes({ roles: { aggregated: { workers: 1, args: ["--max-num-seqs", "64"] } } }).map(
        (p) => p.command,
      ),
    ).toMatchInlineSnapshot(`
      [
        "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
        "python3 -m dynamo.mocker --model-path Qwen/Qwen3-0.6B --model-name Qwen/Qwen3-0.6B --disaggregation-mode agg --speedup-ratio 1 --max-num-seqs 64",
      ]
    `);
  });

  it("renders a script that bash -n and shellcheck accept", () => {
    const script = renderForTest(mocker, { roles: { prefill: { workers: 2 }, decode: { workers: 2 } } });
    expect(lintScript(script)).toEqual({ bash: "", shellcheck: "" });
  });

  it("refuses a worker spanning nodes", () => {
    expect(() =>
      planForTest(mocker, {
        slurm: { gpusPerNode: 4 },
        roles: { aggregated: { workers: 1, gpusPerWorker: 8 } },
      }),
    ).toThrow(expect.objectContaining({ code: "DYN_UNSUPPORTED", key: "roles.aggregated.gpusPerWorker" }));
  });

  it("validates its options", () => {
    expect(() => planForTest(mocker, { options: { speedupRatio: -1 } })).toThrow(
      expect.objectContaining({ code: "DYN_OPTIONS_INVALID" }),
    );
  });
});
