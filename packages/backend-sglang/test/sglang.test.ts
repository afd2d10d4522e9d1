/**
 * SGLang commands per Dynamo release (facts: shared/reference/dynamo-releases.md and the argparse
 * tables captured at each release). One snapshot per generation × role × shape, a lint run per
 * generation, and each refusal.
 */
import { type Release, resolveRelease } from "@dyn/core";
import { planForTest, processesForTest, renderForTest, type TestSpec, thrownBy } from "@dyn/core/testing";
import { lintScript } from "@dyn/core/testing/lint";
import { describe, expect, it } from "vitest";
import sglang, { options, releases, type SglangRelease } from "../src/index.js";

const processes = (spec: TestSpec) => processesForTest(sglang, spec);

const disagg = (version: string): TestSpec => ({
  dynamo: { version },
  slurm: { gpusPerNode: 4 },
  roles: { prefill: { workers: 1 }, decode: { workers: 1 } },
});
const release = (version: string): Release<SglangRelease> => ({
  ...resolveRelease(sglang, releases, { version }),
  facts: releases.facts(version),
});

describe("the release table", () => {
  it("covers every Dynamo release; the scripts at 0.3.2, the unified module from 0.4.1", () => {
    expect(releases.known).toHaveLength(18);
    expect([releases.known[0], releases.newest]).toEqual(["0.3.2", "1.5.1"]);
    expect(releases.known.map((v) => `${v}=${releases.facts(v).launch}`).slice(0, 3)).toEqual([
      "0.3.2=script",
      "0.4.1=module",
      "0.6.1=module",
    ]);
    expect(new Set(releases.known.slice(1).map((v) => JSON.stringify(releases.facts(v).registers)))).toEqual(
      new Set([JSON.stringify({ prefill: "prefill", decode: "backend", aggregated: "backend" })]),
    );
  });
});

describe("0.3.2: the examples/sglang scripts behind dynamo run", () => {
  // Not a `dynamo serve` graph at 0.3.2: components/worker.py and decode_worker.py parse SGLang
  // ServerArgs only, run from examples/sglang; the frontend is `dynamo run in=http out=dyn`.
  it("prefill worker.py registers as worker, decode_worker.py as decode; no system port", () => {
    expect(
      processes({ ...disagg("0.3.2"), roles: { prefill: { workers: 2 }, decode: { workers: 1 } } }),
    ).toMatchInlineSnapshot(`
        [
          {
            "command": "dynamo run in=http out=dyn --http-port {port+4}",
            "env": {},
            "id": "frontend-0",
            "registers": null,
          },
          {
            "command": "python3 components/worker.py --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp-size 4 --host 0.0.0.0 --port {port+5} --nccl-port {port+6} --disaggregation-mode prefill --disaggregation-transfer-backend nixl --disaggregation-bootstrap-port {port+7}",
            "env": {},
            "id": "prefill-w0",
            "registers": "worker",
          },
          {
            "command": "python3 components/worker.py --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp-size 4 --host 0.0.0.0 --port {port+0} --nccl-port {port+1} --disaggregation-mode prefill --disaggregation-transfer-backend nixl --disaggregation-bootstrap-port {port+2}",
            "env": {},
            "id": "prefill-w1",
            "registers": "worker",
          },
          {
            "command": "python3 components/decode_worker.py --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp-size 4 --host 0.0.0.0 --port {port+0} --nccl-port {port+1} --disaggregation-mode decode --disaggregation-transfer-backend nixl",
            "env": {},
            "id": "decode-w0",
            "registers": "decode",
          },
        ]
      `);
  });

  it("the scripts run in exampleDir; the frontend does not host a worker", () => {
    const p = planForTest(sglang, { ...disagg("0.3.2"), options: { exampleDir: "/opt/examples/sglang" } });
    const cwd = Object.fromEntries(p.steps.map((s) => [s.id, s.cwd]));
    expect(cwd).toEqual({
      etcd: undefined,
      nats: undefined,
      "frontend-0": undefined,
      "prefill-w0": "/opt/examples/sglang",
      "decode-w0": "/opt/examples/sglang",
    });
    expect(p.expected).toEqual({ worker: 1, decode: 1 });
  });

  it("aggregated: worker.py without disaggregation flags; ServerArgs options apply", () => {
    expect(
      processes({
        dynamo: { version: "0.3.2" },
        options: { trustRemoteCode: true },
        slurm: { gpusPerNode: 4 },
        roles: { aggregated: { workers: 1, gpusPerWorker: 2 } },
      }).map((p) => `${p.registers ?? "-"}: ${p.command}`),
    ).toMatchInlineSnapshot(`
      [
        "-: dynamo run in=http out=dyn --http-port {port+4}",
        "worker: python3 components/worker.py --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp-size 2 --host 0.0.0.0 --port {port+5} --nccl-port {port+6} --trust-remote-code",
      ]
    `);
  });
});

describe("≥ 0.4.1: python3 -m dynamo.sglang", () => {
  it("disaggregated, NIXL, bootstrap port on prefill (the default release)", () => {
    const spec: TestSpec = { ...disagg("1.5.1"), dynamo: {}, options: { trustRemoteCode: true } };
    expect(planForTest(sglang, spec).release).toMatchObject({ version: "1.5.1", source: "default" });
    expect(processes(spec)).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp-size 4 --host 0.0.0.0 --port {port+6} --nccl-port {port+7} --trust-remote-code --disaggregation-mode prefill --disaggregation-transfer-backend nixl --disaggregation-bootstrap-port {port+8}",
          "env": {
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp-size 4 --host 0.0.0.0 --port {port+1} --nccl-port {port+2} --trust-remote-code --disaggregation-mode decode --disaggregation-transfer-backend nixl",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
          },
          "id": "decode-w0",
          "registers": "backend",
        },
      ]
    `);
  });

  it("0.4.1 and 0.6.1 also set DYN_SYSTEM_ENABLED=true (their system server needs it)", () => {
    const env = (v: string) => processes(disagg(v)).map((p) => p.env.DYN_SYSTEM_ENABLED ?? "-");
    expect(env("0.4.1")).toEqual(["-", "true", "true"]);
    expect(env("0.6.1")).toEqual(["-", "true", "true"]);
    expect(env("0.9.0")).toEqual(["-", "-", "-"]);
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
          "command": "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp-size 2 --host 0.0.0.0 --port {port+6} --nccl-port {port+7}",
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

  it("multi-node prefill (0.6.1, mooncake): one process per node sharing --dist-init-addr, rank 0 registers", () => {
    expect(
      processes({
        dynamo: { version: "0.6.1" },
        options: { transferBackend: "mooncake" },
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
          "command": "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp-size 8 --host 0.0.0.0 --port {port+6} --nccl-port {port+7} --disaggregation-mode prefill --disaggregation-transfer-backend mooncake --disaggregation-bootstrap-port {port+8} --dist-init-addr \${DYN_NODE_IP_0}:{port+9} --nnodes 2 --node-rank 0",
          "env": {
            "DYN_SYSTEM_ENABLED": "true",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0-r0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp-size 8 --host 0.0.0.0 --port {port+6} --nccl-port {port+7} --disaggregation-mode prefill --disaggregation-transfer-backend mooncake --disaggregation-bootstrap-port {port+8} --dist-init-addr \${DYN_NODE_IP_0}:{port+9} --nnodes 2 --node-rank 1",
          "env": {
            "DYN_SYSTEM_ENABLED": "true",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0-r1",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.sglang --model-path Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tp-size 4 --host 0.0.0.0 --port {port+1} --nccl-port {port+2} --disaggregation-mode decode --disaggregation-transfer-backend mooncake",
          "env": {
            "DYN_SYSTEM_ENABLED": "true",
            "DYN_SYSTEM_PORT": "{port+0}",
          },
          "id": "decode-w0",
          "registers": "backend",
        },
      ]
    `);
  });

  it("the sglang-runtime image tag chooses the release", () => {
    const p = planForTest(sglang, {
      ...disagg("1.0.0"),
      dynamo: {},
      container: { kind: "pyxis", image: "nvcr.io#nvidia/ai-dynamo/sglang-runtime:1.3.0-deepseek-v4-dev.1" },
    });
    expect(p.release).toMatchObject({
      version: "1.3.0",
      source: "image",
      requested: "1.3.0-deepseek-v4-dev.1",
    });
    expect(p.release.notes.join("\n")).toContain("1.3.0");
  });
});

describe("components", () => {
  it("names by generation", () => {
    const show = (v: string) => sglang.components(options.parse({}), release(v));
    expect({ scripts: show("0.3.2"), module: show("0.4.1") }).toMatchInlineSnapshot(`
      {
        "module": {
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
        "scripts": {
          "aggregated": {
            "alias": "SGLangWorker",
            "dynamo": "python3 components/worker.py",
            "health": "worker",
          },
          "decode": {
            "alias": "SGLangDecodeWorker",
            "dynamo": "python3 components/decode_worker.py --disaggregation-mode decode",
            "health": "decode",
          },
          "prefill": {
            "alias": "SGLangPrefillWorker",
            "dynamo": "python3 components/worker.py --disaggregation-mode prefill",
            "health": "worker",
          },
        },
      }
    `);
    expect(show("1.5.1")).toEqual(show("0.4.1"));
  });
});

describe("rendered scripts", () => {
  const shapes: Record<string, TestSpec> = {
    "0.3.2 scripts": disagg("0.3.2"),
    "0.4.1 module": disagg("0.4.1"),
    "1.5.1 multi-node": {
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
  it("0.3.2 multi-node", () => {
    const e = thrownBy(() =>
      planForTest(sglang, {
        ...disagg("0.3.2"),
        roles: { prefill: { workers: 1 }, decode: { workers: 1, gpusPerWorker: 8 } },
      }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.decode.gpusPerWorker" });
    expect(String(e)).toContain("with Dynamo 0.3.2 the examples/sglang scripts run one worker per node");
  });
  it("0.4.0 (the split dynamo.sglang.worker modules of main) is not a release", () => {
    const e = thrownBy(() => planForTest(sglang, disagg("0.4.0")));
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "dynamo.version" });
    expect((e as { hint?: string }).hint).toContain("nearest: 0.3.2");
  });
  it("another backend's image is refused", () => {
    const e = thrownBy(() =>
      planForTest(sglang, {
        ...disagg("1.0.0"),
        dynamo: {},
        container: { kind: "pyxis", image: "nvcr.io#nvidia/ai-dynamo/vllm-runtime:1.4.2" },
      }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "container.image" });
    expect(String(e)).toContain("vllm");
  });
  it("options are strict; the graph options and dynamoVersion are gone", () => {
    expect(thrownBy(() => planForTest(sglang, { options: { transferBackend: "ucx" } }))).toMatchObject({
      code: "DYN_OPTIONS_INVALID",
      key: "backend.options.transferBackend",
    });
    for (const key of ["dynamoVersion", "graphDir", "config"])
      expect(thrownBy(() => planForTest(sglang, { options: { [key]: "x" } }))).toMatchObject({
        code: "DYN_OPTIONS_INVALID",
        key: `backend.options.${key}`,
      });
  });
});
