import { assertBackend } from "@dyn/core";
import { planForTest, processesForTest, renderForTest, type TestSpec, thrownBy } from "@dyn/core/testing";
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

  it("declares the releases that have python3 -m dynamo.mocker (0.4.1 on)", () => {
    expect(mocker.releases?.known[0]).toBe("0.4.1");
    expect(mocker.releases?.newest).toBe("1.5.1");
    // 0.3.2 has no mocker module: refused naming the key and the known releases.
    const e = thrownBy(() =>
      planForTest(mocker, { dynamo: { version: "0.3.2" }, roles: { aggregated: { workers: 1 } } }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "dynamo.version" });
    expect(String(e)).toContain("known releases of mocker: 0.4.1, 0.6.1, 0.9.0, 1.0.0");
  });

  it("role flags by release: --is-prefill-worker/--is-decode-worker before 1.0.0", () => {
    const spec = (version: string): TestSpec => ({
      dynamo: { version },
      roles: { prefill: { workers: 1 }, decode: { workers: 1 } },
    });
    expect(processes(spec("0.9.0")).map((p) => `${p.registers}: ${p.command}`)).toMatchInlineSnapshot(`
      [
        "null: python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
        "prefill: python3 -m dynamo.mocker --model-path Qwen/Qwen3-0.6B --model-name Qwen/Qwen3-0.6B --is-prefill-worker --speedup-ratio 1 --bootstrap-ports {port+6}",
        "backend: python3 -m dynamo.mocker --model-path Qwen/Qwen3-0.6B --model-name Qwen/Qwen3-0.6B --is-decode-worker --speedup-ratio 1",
      ]
    `);
    // 0.6.1: no --bootstrap-ports yet; its system server needs DYN_SYSTEM_ENABLED.
    expect(processes(spec("0.6.1")).slice(1)).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.mocker --model-path Qwen/Qwen3-0.6B --model-name Qwen/Qwen3-0.6B --is-prefill-worker --speedup-ratio 1",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0",
            "DYN_SYSTEM_ENABLED": "true",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.mocker --model-path Qwen/Qwen3-0.6B --model-name Qwen/Qwen3-0.6B --is-decode-worker --speedup-ratio 1",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0",
            "DYN_SYSTEM_ENABLED": "true",
            "DYN_SYSTEM_PORT": "{port+0}",
          },
          "id": "decode-w0",
          "registers": "backend",
        },
      ]
    `);
  });

  it("0.4.1: aggregated only, engine settings not on the command line", () => {
    const agg: TestSpec = { dynamo: { version: "0.4.1" }, roles: { aggregated: { workers: 1 } } };
    expect(processes(agg).map((p) => p.command)[1]).toBe(
      "python3 -m dynamo.mocker --model-path Qwen/Qwen3-0.6B --model-name Qwen/Qwen3-0.6B",
    );
    expect(
      thrownBy(() =>
        planForTest(mocker, {
          dynamo: { version: "0.4.1" },
          roles: { prefill: { workers: 1 }, decode: { workers: 1 } },
        }),
      ),
    ).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.prefill" });
    expect(thrownBy(() => planForTest(mocker, { ...agg, options: { speedupRatio: 10 } }))).toMatchObject({
      code: "DYN_UNSUPPORTED",
      key: "backend.options.speedupRatio",
    });
  });

  it("the default release is the newest, 1.5.1", () => {
    expect(planForTest(mocker, { roles: { aggregated: { workers: 1 } } }).release).toMatchObject({
      version: "1.5.1",
      source: "default",
    });
  });

  it("validates its options", () => {
    expect(() => planForTest(mocker, { options: { speedupRatio: -1 } })).toThrow(
      expect.objectContaining({ code: "DYN_OPTIONS_INVALID" }),
    );
  });
});
